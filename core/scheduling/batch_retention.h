// How long finished batches stay readable: keeps them (FinishedBatches) and the one timer that
// evicts them once their retention ends or they are over the count, handing each evicted batch
// (oldest finish first) to `evict`. Strand only: the timer fires on the strand.
#pragma once

#include <cstddef>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "core/scheduling/batch.h"
#include "core/scheduling/finished_batches.h"
#include "core/time/clock.h"
#include "core/time/timer_service.h"

namespace batchd::core {

class BatchRetention {
 public:
  using BatchPtr = std::shared_ptr<Batch>;
  using Evict = absl::AnyInvocable<void(const BatchPtr&)>;

  BatchRetention(const Clock& clock, TimerService& timers, Duration retention, size_t max_batches,
                 Evict evict);
  // The timer captures this: it must not move (and, like every strand callback, the timer
  // must not fire once this is gone).
  BatchRetention(const BatchRetention&) = delete;
  BatchRetention& operator=(const BatchRetention&) = delete;

  // `batch` finished now; evicts whatever is due.
  void Add(BatchPtr batch);
  // `batch` was recovered finished (placed by its finish time); evicts whatever is due.
  void AddRecovered(BatchPtr batch);
  size_t size() const { return finished_.size(); }

 private:
  // Evicts every batch due now and arms the timer for the next one.
  void EvictExpired();

  const Clock& clock_;
  TimerService& timers_;
  FinishedBatches finished_;
  Evict evict_;
  TimerId timer_ = kNoTimer;
};

}  // namespace batchd::core
