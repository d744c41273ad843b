// Secrets referred to from a task input: anywhere, an object {"$secret": "<name>"} stands for the
// secret's value (a JSON string), and inside a string "${secret:<name>}" for its text (the
// template grammar of core/inputs/string_templates.h: "$$" is a literal "$"). CheckSecretRefs
// runs at submit and records where the references are (their sites); SubstituteSecrets makes the
// copy of the input one attempt is given and touches only those sites, so nothing a dependency's
// output put into the input (core/inputs resolves those before) is ever read as a reference.
// Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/field_violation.h"
#include "core/secrets/secret_store.h"

namespace batchd::core {

inline constexpr absl::string_view kSecretMember = "$secret";

// Where a task's input refers to secrets. Paths stay valid when core/inputs resolves the input's
// dependency references: a site is never inside a {"$ref"} object.
struct SecretRefs {
  // JSON pointers (RFC 6901) of the {"$secret"} objects and of the strings with secret templates.
  std::vector<std::string> sites{};
  std::vector<std::string> names{};  // the secrets named, sorted and unique

  bool empty() const { return sites.empty(); }
};

// Adds a violation for each bad reference in `input`, with its path under what `field` returns
// (e.g. "tasks[2].input" + ".headers.Authorization"): a {"$secret"} object with another member or
// a name that is not a string, an unknown secret (the message lists the defined names, never a
// value), a secret `executor` (the name the task asked for) may not read. {"$ref"} objects and
// malformed templates are core/inputs' to report. Returns the references, well formed or not.
SecretRefs CheckSecretRefs(const boost::json::value& input, absl::FunctionRef<std::string()> field,
                           absl::string_view task_id, absl::string_view executor,
                           const SecretStore& secrets, FieldViolations& violations);

// A copy of `input` with the secrets' values at `refs`' sites ("$$" unescaped there). `input` is
// the submitted input or what core/inputs resolved it to, and must have passed CheckSecretRefs
// with the same `refs`. FAILED_PRECONDITION when a secret is not defined (any more) or a site is
// not what it was.
absl::StatusOr<boost::json::value> SubstituteSecrets(const boost::json::value& input,
                                                     const SecretRefs& refs,
                                                     const SecretStore& secrets);

}  // namespace batchd::core
