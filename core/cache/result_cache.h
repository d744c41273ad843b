// Successful task results by CacheKey, for a time to live and within a byte budget: the least
// recently used entries go first when the budget is full, an entry over the per-entry bound is
// not stored (counted), and an expired entry is dropped when it is looked up or when the budget
// needs room. Invalidation by key, by namespace or all. An observer (the journal's copy) is told
// of every change. Strand only.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "core/cache/cache_key.h"
#include "core/model/task_result.h"
#include "core/time/clock.h"

namespace batchd::core {

struct ResultCacheOptions {
  size_t max_bytes = size_t{256} << 20;      // --cache-max-bytes
  size_t max_entry_bytes = size_t{1} << 20;  // --cache-max-entry-bytes
};

struct CacheEntry {
  CacheKey key;
  std::string name_space;
  boost::json::value output;
  std::shared_ptr<const CachedFrom> origin;  // shared with the results served from it
  SteadyTime expires{};
  size_t bytes = 0;  // what the entry counts against max_bytes
};

struct ResultCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;  // lookups that found nothing live (expired ones included)
  uint64_t stored = 0;
  uint64_t too_large = 0;      // results over max_entry_bytes, not stored
  uint64_t evictions = 0;      // entries dropped to make room
  uint64_t expirations = 0;    // entries dropped because their time passed
  uint64_t invalidations = 0;  // entries dropped by Invalidate*
  size_t entries = 0;
  size_t bytes = 0;
};

// Told of every change of a ResultCache, in order: enough to keep a copy of it (the journal).
class ResultCacheObserver {
 public:
  virtual ~ResultCacheObserver() = default;
  virtual void Stored(const CacheEntry& entry) = 0;  // new, or replacing its key's
  virtual void Dropped(const CacheKey& key) = 0;     // expired, evicted or invalidated
  virtual void DroppedNamespace(absl::string_view name_space) = 0;
  virtual void Cleared() = 0;
};

class ResultCache {
 public:
  explicit ResultCache(ResultCacheOptions options = {}) : options_(options) {}
  ResultCache(const ResultCache&) = delete;
  ResultCache& operator=(const ResultCache&) = delete;

  // The live entry for `key` (now the most recently used), or nullptr; counts a hit or a miss.
  // Valid until the next non-const call.
  const CacheEntry* Find(const CacheKey& key, SteadyTime now);
  // Stores (or replaces) the entry for `key`, live until `expires`. False, storing nothing,
  // when the entry alone is over max_entry_bytes.
  bool Store(const CacheKey& key, absl::string_view name_space, boost::json::value output,
             std::shared_ptr<const CachedFrom> origin, SteadyTime expires, SteadyTime now);

  // Start-up: an entry the observer already has (the journal's), stored as the most recently
  // used. Like Store, without telling the observer it was stored (it is told of what makes
  // room); not counted as stored.
  bool Restore(const CacheKey& key, absl::string_view name_space, boost::json::value output,
               std::shared_ptr<const CachedFrom> origin, SteadyTime expires, SteadyTime now);

  // Set before anything is stored; may be null. Must outlive this.
  void SetObserver(ResultCacheObserver* observer) { observer_ = observer; }

  // How many entries each dropped.
  size_t InvalidateKey(const CacheKey& key);
  size_t InvalidateNamespace(absl::string_view name_space);
  size_t InvalidateAll();

  const ResultCacheStats& stats() const { return stats_; }
  const ResultCacheOptions& options() const { return options_; }

 private:
  using Lru = std::list<CacheEntry>;  // most recently used first

  // Inserts without telling the observer: nullptr when the entry is over a bound.
  const CacheEntry* Insert(const CacheKey& key, absl::string_view name_space,
                           boost::json::value output, std::shared_ptr<const CachedFrom> origin,
                           SteadyTime expires, SteadyTime now);
  // Drops the entry; `told`: tells the observer.
  void Erase(Lru::iterator it, bool told = true);
  // Drops the least recently used entries until `incoming` more bytes fit.
  void MakeRoom(size_t incoming, SteadyTime now);

  ResultCacheOptions options_;
  Lru lru_;
  absl::flat_hash_map<CacheKey, Lru::iterator> by_key_;
  ResultCacheStats stats_;
  ResultCacheObserver* observer_ = nullptr;
};

// What an entry of this output counts: an estimate of its JSON text (numbers as 20 characters),
// its namespace and origin, and a fixed overhead for the bookkeeping.
size_t CacheEntryBytes(const boost::json::value& output, absl::string_view name_space,
                       const CachedFrom& origin);

}  // namespace batchd::core
