// The daemon's --secrets-file flag (a JSON file of named secrets, or a directory of one file per
// secret) read into the store task inputs refer to. Call from main's thread only, after
// absl::ParseCommandLine.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/secrets/secret_store.h"

namespace batchd::server {

// The secrets --secrets-file defines (none without the flag). INVALID_ARGUMENT naming the flag
// and the path when it cannot be read or defines something unusable (never a value).
absl::StatusOr<std::shared_ptr<const core::SecretStore>> SecretsFromFlags();

}  // namespace batchd::server
