// The scheduler's side of the result cache (core/cache): the store, the flights and the key
// builder. A ready task with a cache policy is looked up before it takes anything (a batch or
// daemon slot, limit units): a hit finishes it, a key in flight makes it wait, a miss makes it
// the key's runner. When a runner ends, its success is stored and handed to its waiters; a
// failure hands the flight to the next waiter. What follows an end is queued as a CacheHandoff
// for the scheduler to apply in its loop (never from inside another task's transition).
// Strand only.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "core/cache/cache_journal.h"
#include "core/cache/cache_key.h"
#include "core/cache/result_cache.h"
#include "core/cache/single_flight.h"
#include "core/model/task_result.h"
#include "core/scheduling/batch.h"

namespace batchd::core {

// A success handed to the tasks that waited for it.
struct CachedOutput {
  boost::json::value output;
  std::shared_ptr<const CachedFrom> origin;
};

// What the end of a runner means for others: `waiters` finish with `output` (a success), or
// `next` runs in its place (a failure).
struct CacheHandoff {
  std::vector<FlightTask> waiters;
  std::shared_ptr<const CachedOutput> output;
  std::optional<FlightTask> next;
};

struct CacheGateStats {
  ResultCacheStats store;
  uint64_t joins = 0;  // tasks that waited for another's attempt (single-flight)
  size_t flights = 0;  // keys with an attempt running
};

class CacheGate {
 public:
  // With a journal (may be null) the cache keeps a copy there (CacheJournal); `clock` must
  // outlive this.
  CacheGate(ResultCacheOptions options, Journal* journal, const Clock& clock);

  enum class Verdict { kRun, kHit, kWait };
  // Looks up task `t` of `batch` (its input resolved; cache_spec set): sets its key and stage.
  // kHit: `hit` is the entry (valid until the next non-const call).
  Verdict Look(Batch& batch, uint32_t t, SteadyTime now, const CacheEntry** hit);
  // Task `t` (stage kRuns) reached its final result `r`: stores a success and returns what its
  // waiters do, if anything.
  std::optional<CacheHandoff> Finished(const Batch& batch, uint32_t t, const TaskResult& r,
                                       SteadyTime now, absl::FunctionRef<bool(FlightTask)> waits);

  size_t InvalidateClientKey(absl::string_view ns, absl::string_view key) {
    return cache_.InvalidateKey(keys_.ForClientKey(ns, key));
  }
  size_t InvalidateNamespace(absl::string_view ns) { return cache_.InvalidateNamespace(ns); }
  size_t InvalidateAll() { return cache_.InvalidateAll(); }
  CacheGateStats stats() const { return {cache_.stats(), flights_.joins(), flights_.flights()}; }

  // Hands this turn's changes to the journal (when there is one).
  void Flush() {
    if (journal_ != nullptr) journal_->Flush();
  }
  // Start-up: the journal's entries (JournalContents::cache and damaged_cache_keys).
  CacheRestoreCounts Restore(const std::vector<CacheRecord>& entries,
                             const std::vector<std::string>& damaged_keys);

 private:
  CacheKey KeyOf(const Batch& batch, uint32_t t);

  CacheKeyBuilder keys_;
  ResultCache cache_;
  std::unique_ptr<CacheJournal> journal_;  // null without a journal
  SingleFlight flights_;
  std::vector<DigestedDependency> dependencies_;  // scratch for KeyOf
};

}  // namespace batchd::core
