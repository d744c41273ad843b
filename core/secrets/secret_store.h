// Named secrets (--secrets-file): each a value and the executors that may read it. Loaded once
// at start-up and never changed after (the daemon shares it as a const object): reads are
// thread-safe. No message made here holds a value.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

// Who may read a secret its definition does not say: the http executor only.
inline constexpr absl::string_view kDefaultSecretReader = "http";
inline constexpr size_t kMaxSecretNameBytes = 128;

// A name is 1 to 128 of [A-Za-z0-9_.-].
bool IsSecretName(absl::string_view name);

struct Secret {
  std::string value{};
  std::vector<std::string> readers{};  // executor names, sorted and unique

  bool ReadableBy(absl::string_view executor) const;
};

class SecretStore {
 public:
  // INVALID_ARGUMENT for a bad name, a name already defined, an empty value or no readers.
  absl::Status Add(std::string name, std::string value, std::vector<std::string> readers);

  // nullptr when `name` is not defined.
  const Secret* Find(absl::string_view name) const;
  // Sorted.
  std::vector<std::string> Names() const;
  size_t size() const { return secrets_.size(); }
  bool empty() const { return secrets_.empty(); }

 private:
  std::map<std::string, Secret, std::less<>> secrets_;
};

// The secrets at `path`. A file is a JSON object, each member a secret: a string (its value,
// readable by http) or {"value": "...", "executors": ["http", "shell", ...]}. A directory holds
// one file per secret, the way Docker and Kubernetes mount them: the file's name is the secret's
// name and its content the value, one trailing newline removed, readable by http; hidden entries
// (".x", Kubernetes' "..data") and anything that is not a regular file are skipped.
// NOT_FOUND when `path` does not exist; INVALID_ARGUMENT naming the file and the secret (never the
// value) when something is unusable.
absl::StatusOr<SecretStore> LoadSecrets(const std::string& path);

}  // namespace batchd::core
