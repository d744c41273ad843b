// The result cache as journal records (core/journal/journal.h's CacheRecord): what storing an
// entry, dropping one, dropping a namespace and dropping all write, and an entry read back at
// start-up. The entry's bytes are JSON: {"batch": …, "task": …, "output": …}. Pure functions;
// safe from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/cache/cache_key.h"
#include "core/journal/journal.h"
#include "core/model/task_result.h"
#include "core/time/clock.h"

namespace batchd::core {

struct CacheEntry;

CacheRecord CachePutRecord(const CacheEntry& entry, WallTime expires_at);
CacheRecord CacheEraseRecord(const CacheKey& key);
CacheRecord CacheEraseNamespaceRecord(absl::string_view name_space);
CacheRecord CacheClearRecord();

// An entry as the journal kept it.
struct StoredCacheEntry {
  CacheKey key;
  std::string name_space;
  boost::json::value output;
  CachedFrom origin;
  WallTime expires_at{};
};

// DATA_LOSS naming the key when a put record does not decode.
absl::StatusOr<StoredCacheEntry> DecodeCachePut(const CacheRecord& record);

}  // namespace batchd::core
