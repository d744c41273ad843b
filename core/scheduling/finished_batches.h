// Finished batches the scheduler retains for readers, oldest finish first: which to evict (past
// the retention period or over the count) and when to look again. It evicts nothing itself and
// holds no timer. Strand only.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>

#include "core/scheduling/batch.h"
#include "core/time/clock.h"

namespace batchd::core {

class FinishedBatches {
 public:
  FinishedBatches(Duration retention, size_t max_batches)
      : retention_(retention), max_batches_(max_batches) {}

  // `batch` finished now: the newest.
  void Add(std::shared_ptr<Batch> batch) { by_finish_.push_back(std::move(batch)); }
  // `batch` was recovered finished: placed by its finish time.
  void AddRecovered(std::shared_ptr<Batch> batch);
  // The oldest batch due for eviction at `now`, no longer listed; nullptr when none is.
  std::shared_ptr<Batch> PopExpired(SteadyTime now);
  // When the oldest batch's retention ends; nullopt when none is retained.
  std::optional<SteadyTime> NextExpiry() const;
  size_t size() const { return by_finish_.size(); }

 private:
  const Duration retention_;
  const size_t max_batches_;
  std::deque<std::shared_ptr<Batch>> by_finish_;
};

}  // namespace batchd::core
