// Text form of the result cache's counters (batchd.v1 CacheService), for `batchctl cache stats`.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "batchd/v1/cache_service.pb.h"

namespace batchd::client {

// One "name  value" line per counter: entries, bytes (of the maximum), lookups with the hit
// ratio, single-flight joins, keys in flight, stored, too large, evictions, expirations,
// invalidations. Ends with '\n'.
std::string FormatCacheStats(const batchd::v1::CacheStats& stats);

}  // namespace batchd::client
