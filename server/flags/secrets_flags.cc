#include "server/flags/secrets_flags.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, secrets_file, "",
          "Named secrets task inputs may refer to as {\"$secret\": \"name\"} or "
          "\"${secret:name}\": a JSON file ({\"name\": \"value\"} or {\"name\": {\"value\": ..., "
          "\"executors\": [\"http\", \"shell\"]}}) or a directory of one file per secret (its "
          "name; the content is the value, as Docker and Kubernetes mount them). Readable by the "
          "http executor unless the secret lists others; substituted only into the request, "
          "never journalled, and redacted from results");

namespace batchd::server {

absl::StatusOr<std::shared_ptr<const core::SecretStore>> SecretsFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_secrets_file);
  if (path.empty()) return std::make_shared<const core::SecretStore>();
  absl::StatusOr<core::SecretStore> store = core::LoadSecrets(path);
  if (!store.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --secrets-file '", path, "': ", store.status().message()));
  }
  return std::make_shared<const core::SecretStore>(*std::move(store));
}

}  // namespace batchd::server
