#include "core/cache/cache_journal.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "core/cache/cache_records.h"

namespace batchd::core {

void CacheJournal::Stored(const CacheEntry& entry) {
  // The journal keeps wall time: a steady time means nothing after a restart.
  const WallTime expires_at = clock_.WallNow() + std::chrono::duration_cast<WallTime::duration>(
                                                     entry.expires - clock_.SteadyNow());
  pending_.push_back(CachePutRecord(entry, expires_at));
}

void CacheJournal::Dropped(const CacheKey& key) { pending_.push_back(CacheEraseRecord(key)); }

void CacheJournal::DroppedNamespace(absl::string_view name_space) {
  pending_.push_back(CacheEraseNamespaceRecord(name_space));
}

void CacheJournal::Cleared() {
  // Nothing before a clear matters any more.
  pending_.clear();
  pending_.push_back(CacheClearRecord());
}

void CacheJournal::Flush() {
  if (pending_.empty()) return;
  journal_.StoreCache(std::exchange(pending_, {}));
}

CacheRestoreCounts CacheJournal::Restore(ResultCache& cache,
                                         const std::vector<CacheRecord>& entries,
                                         const std::vector<std::string>& damaged_keys) {
  CacheRestoreCounts counts;
  for (const std::string& key : damaged_keys) {
    CacheRecord erase;
    erase.kind = CacheRecord::Kind::kErase;
    erase.key = key;
    pending_.push_back(std::move(erase));
    ++counts.damaged;
  }
  const WallTime wall_now = clock_.WallNow();
  const SteadyTime steady_now = clock_.SteadyNow();
  for (const CacheRecord& record : entries) {
    absl::StatusOr<StoredCacheEntry> entry = DecodeCachePut(record);
    if (!entry.ok()) {
      spdlog::error("journal: {} (dropped)", std::string(entry.status().message()));
      CacheRecord erase;
      erase.kind = CacheRecord::Kind::kErase;
      erase.key = record.key;
      pending_.push_back(std::move(erase));
      ++counts.damaged;
      continue;
    }
    if (entry->expires_at <= wall_now) {
      Dropped(entry->key);
      ++counts.expired;
      continue;
    }
    const SteadyTime expires =
        steady_now + std::chrono::duration_cast<SteadyTime::duration>(entry->expires_at - wall_now);
    if (!cache.Restore(entry->key, entry->name_space, std::move(entry->output),
                       std::make_shared<const CachedFrom>(std::move(entry->origin)), expires,
                       steady_now)) {
      ++counts.too_large;  // Restore told this to drop it
      continue;
    }
    ++counts.restored;
  }
  return counts;
}

}  // namespace batchd::core
