// Takes the values of the secrets a task's input referred to out of what its attempt returned (a
// server may echo a key back in an error body): every occurrence, in the error and in every string
// and object key of the output, becomes "[secret:<name>]". Values of any length are redacted, a
// value of one or two bytes too (wherever those bytes occur: define real secrets). Longer values
// first, so a value that holds another is replaced whole. Immutable once made; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/secrets/secret_refs.h"
#include "core/secrets/secret_store.h"

namespace batchd::core {

class SecretRedactor {
 public:
  // The secrets of `refs` that `secrets` defines; `secrets` must outlive the redactor.
  SecretRedactor(const SecretRefs& refs, const SecretStore& secrets);

  // Whether anything was replaced.
  bool Redact(std::string& text) const;
  bool Redact(boost::json::value& value) const;

 private:
  // (value, "[secret:name]"), the longest value first.
  std::vector<std::pair<const std::string*, std::string>> replacements_;
};

}  // namespace batchd::core
