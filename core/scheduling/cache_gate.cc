#include "core/scheduling/cache_gate.h"

#include <chrono>
#include <utility>

namespace batchd::core {

CacheGate::CacheGate(ResultCacheOptions options, Journal* journal, const Clock& clock)
    : cache_(options),
      journal_(journal != nullptr ? std::make_unique<CacheJournal>(*journal, clock) : nullptr) {
  cache_.SetObserver(journal_.get());
}

CacheRestoreCounts CacheGate::Restore(const std::vector<CacheRecord>& entries,
                                      const std::vector<std::string>& damaged_keys) {
  if (journal_ == nullptr) return {};
  CacheRestoreCounts counts = journal_->Restore(cache_, entries, damaged_keys);
  journal_->Flush();
  return counts;
}

CacheKey CacheGate::KeyOf(const Batch& batch, uint32_t t) {
  const CacheSpec& spec = *batch.cache_spec(t);
  if (!spec.key.empty()) return keys_.ForClientKey(spec.name_space, spec.key);
  dependencies_.clear();
  if (batch.executor(t)->ReceivesDependencyOutputs()) {
    for (uint32_t d : batch.graph().Dependencies(t)) {
      const TaskResult* r = batch.result(d);
      dependencies_.push_back(
          {batch.task_id(d), r != nullptr && r->success() ? &r->output : nullptr});
    }
  }
  return keys_.ForTask(spec.name_space, batch.executor_name(t), batch.input(t), dependencies_);
}

CacheGate::Verdict CacheGate::Look(Batch& batch, uint32_t t, SteadyTime now,
                                   const CacheEntry** hit) {
  const CacheKey key = KeyOf(batch, t);
  batch.SetCacheKey(t, key);
  const FlightTask me{batch.seq(), t};
  if (!batch.cache_spec(t)->skip_lookup) {
    if (const CacheEntry* entry = cache_.Find(key, now)) {
      *hit = entry;
      return Verdict::kHit;
    }
    if (flights_.JoinOrBegin(key, me)) {
      batch.WaitForCache(t);
      return Verdict::kWait;
    }
  } else if (!flights_.InFlight(key)) {
    // skip_lookup runs beside a flight already running for its key rather than join it.
    flights_.Begin(key, me);
  }
  batch.RunForCache(t);
  return Verdict::kRun;
}

std::optional<CacheHandoff> CacheGate::Finished(const Batch& batch, uint32_t t, const TaskResult& r,
                                                SteadyTime now,
                                                absl::FunctionRef<bool(FlightTask)> waits) {
  const CacheKey& key = batch.cache_key(t);
  const FlightTask me{batch.seq(), t};
  if (r.success()) {
    const CacheSpec& spec = *batch.cache_spec(t);
    auto origin = std::make_shared<const CachedFrom>(CachedFrom{batch.id(), batch.task_id(t)});
    cache_.Store(key, spec.name_space, r.output, origin,
                 now + std::chrono::milliseconds(spec.ttl_ms), now);
    CacheHandoff handoff;
    if (!flights_.SucceededIfOwner(key, me, &handoff.waiters) || handoff.waiters.empty()) {
      return std::nullopt;
    }
    handoff.output = std::make_shared<const CachedOutput>(CachedOutput{r.output, origin});
    return handoff;
  }
  if (flights_.Owner(key) != me) return std::nullopt;
  std::optional<FlightTask> next = flights_.Failed(key, waits);
  if (!next.has_value()) return std::nullopt;
  CacheHandoff handoff;
  handoff.next = next;
  return handoff;
}

}  // namespace batchd::core
