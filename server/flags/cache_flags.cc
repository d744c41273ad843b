#include "server/flags/cache_flags.h"

#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(uint64_t, cache_max_bytes, uint64_t{256} << 20,
          "The result cache's budget in bytes (outputs as JSON text plus bookkeeping); the least "
          "recently used entries go first when it is full");
ABSL_FLAG(uint64_t, cache_max_entry_bytes, uint64_t{1} << 20,
          "A successful result larger than this is not cached (counted as too_large); tasks "
          "waiting for it still get it");

namespace batchd::server {
namespace {

constexpr uint64_t kMaxCacheBytes = uint64_t{1} << 40;  // 1 TiB: a typo, not a budget

}  // namespace

absl::StatusOr<core::ResultCacheOptions> CacheOptionsFromFlags() {
  const uint64_t max_bytes = absl::GetFlag(FLAGS_cache_max_bytes);
  const uint64_t max_entry = absl::GetFlag(FLAGS_cache_max_entry_bytes);
  if (max_bytes == 0 || max_bytes > kMaxCacheBytes) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --cache-max-bytes ", max_bytes,
                                                   ": must be from 1 to ", kMaxCacheBytes));
  }
  if (max_entry == 0 || max_entry > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --cache-max-entry-bytes ", max_entry,
                                                   ": must be from 1 to --cache-max-bytes (",
                                                   max_bytes, ")"));
  }
  core::ResultCacheOptions options;
  options.max_bytes = max_bytes;
  options.max_entry_bytes = max_entry;
  return options;
}

}  // namespace batchd::server
