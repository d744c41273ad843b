// The result cache's copy in the journal, so cached results outlive a restart: every change of
// the cache (ResultCacheObserver) becomes a CacheRecord, buffered during a scheduler turn and
// handed to the journal at its end (Flush), so the journal sees the changes in the cache's
// order. At start-up Restore loads the journal's entries back, dropping (in memory and in the
// journal) those that expired while batchd was down or do not decode. Strand only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/cache/result_cache.h"
#include "core/journal/journal.h"
#include "core/time/clock.h"

namespace batchd::core {

struct CacheRestoreCounts {
  size_t restored = 0;
  size_t expired = 0;
  size_t damaged = 0;    // records that fail their checksum or do not decode
  size_t too_large = 0;  // over the bounds batchd runs with now
};

class CacheJournal final : public ResultCacheObserver {
 public:
  // Both must outlive this.
  CacheJournal(Journal& journal, const Clock& clock) : journal_(journal), clock_(clock) {}

  void Stored(const CacheEntry& entry) override;
  void Dropped(const CacheKey& key) override;
  void DroppedNamespace(absl::string_view name_space) override;
  void Cleared() override;

  // Hands what changed since the last Flush to the journal.
  void Flush();

  // Start-up, `cache` observed by this: stores the journal's live entries into it, least
  // recently stored first, and deletes the others and `damaged_keys` from the journal.
  CacheRestoreCounts Restore(ResultCache& cache, const std::vector<CacheRecord>& entries,
                             const std::vector<std::string>& damaged_keys);

  size_t pending() const { return pending_.size(); }

 private:
  Journal& journal_;
  const Clock& clock_;
  std::vector<CacheRecord> pending_;
};

}  // namespace batchd::core
