#include "server/flags/limits_flags.h"

#include <cstdint>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/limits/limit_file.h"

ABSL_FLAG(std::string, limits_file, "",
          "A JSON file of shared limits to start with: {\"limits\": [{\"key\": \"openai\", "
          "\"max_in_flight\": 50, \"rates\": [{\"units\": 500, \"per\": \"minute\"}]}]} "
          "(deploy/limits.example.json). Limits set or deleted at run time (LimitService, "
          "batchctl limits) are journaled and override the file's at the next start");
ABSL_FLAG(uint64_t, max_limit_keys, 100'000,
          "How many shared-limit keys may be configured at once (file and run time together)");

namespace batchd::server {
namespace {

constexpr uint64_t kMaxLimitKeys = 10'000'000;

}  // namespace

absl::StatusOr<LimitsConfig> LimitsConfigFromFlags() {
  LimitsConfig config;
  const uint64_t max_keys = absl::GetFlag(FLAGS_max_limit_keys);
  if (max_keys == 0 || max_keys > kMaxLimitKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --max-limit-keys ", max_keys, ": must be from 1 to ", kMaxLimitKeys));
  }
  config.max_keys = max_keys;
  config.file = absl::GetFlag(FLAGS_limits_file);
  if (config.file.empty()) return config;
  absl::StatusOr<std::vector<core::LimitSpec>> limits = core::LoadLimitsFile(config.file);
  if (!limits.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--limits-file: ", limits.status().message()));
  }
  if (limits->size() > config.max_keys) {
    return absl::InvalidArgumentError(
        absl::StrCat("--limits-file: ", config.file, " has ", limits->size(),
                     " limits, more than --max-limit-keys=", config.max_keys));
  }
  config.limits = *std::move(limits);
  return config;
}

}  // namespace batchd::server
