// The daemon's result-cache flags (--cache-max-bytes, --cache-max-entry-bytes) read into the
// cache's options. Call from main's thread only, after absl::ParseCommandLine.
#pragma once

#include "absl/status/statusor.h"
#include "core/cache/result_cache.h"

namespace batchd::server {

// INVALID_ARGUMENT naming the flag for a zero or oversized bound, or an entry bound over the
// whole cache's.
absl::StatusOr<core::ResultCacheOptions> CacheOptionsFromFlags();

}  // namespace batchd::server
