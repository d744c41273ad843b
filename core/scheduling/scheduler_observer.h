// What the scheduler reports as batches and tasks move, for metrics (an observer, so the
// scheduler holds no instrumentation of its own). Called on the scheduler's strand;
// implementations must be quick and must not block or call back into the scheduler.
#pragma once

#include <string_view>
#include <vector>

#include "core/cache/result_cache.h"
#include "core/limits/limit_table.h"
#include "core/model/task_result.h"
#include "core/time/clock.h"

namespace batchd::core {

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void OnBatchSubmitted() {}
  virtual void OnBatchFinished(BatchState /*state*/) {}
  // An attempt starts; `queue_wait` is how long the task was ready (dependencies done) before.
  virtual void OnTaskStarted(std::string_view /*executor*/, Duration /*queue_wait*/) {}
  // A task's final state; `run_time` is its final attempt's (zero when it never ran).
  virtual void OnTaskFinished(std::string_view /*executor*/, TaskState /*state*/,
                              Duration /*run_time*/) {}
  virtual void OnRetryScheduled(std::string_view /*executor*/) {}
  virtual void OnTimeout(std::string_view /*executor*/) {}
};

// Point-in-time figures of the scheduler's state.
struct SchedulerGauges {
  size_t active_batches = 0;
  uint64_t running_tasks = 0;
  uint64_t ready_tasks = 0;               // dependencies done, waiting for a concurrency slot
  uint64_t waiting_for_worker_tasks = 0;  // ready, waiting for a worker slot
  uint64_t throttled_tasks = 0;           // ready, waiting for their shared limits
  std::vector<LimitState> limits;         // configured keys, by key
  // The result cache.
  ResultCacheStats cache;
  uint64_t cache_joins = 0;    // single-flight joins
  size_t cache_flights = 0;    // keys with an attempt running
  size_t cache_max_bytes = 0;  // --cache-max-bytes
};

}  // namespace batchd::core
