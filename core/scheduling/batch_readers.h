// Readers and waiters of batches: a read (results after a cursor, a progress update newer than
// a version, the completion) is answered at once when it can be, else it waits on its batch
// and is tried again after the batch next changes (MarkChanged during a turn, NotifyChanged
// at its end). Nothing is copied per reader: answers point into the batch's result log.
// Strand only; callbacks run on the strand and must not block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "core/model/task_result.h"
#include "core/scheduling/batch.h"
#include "core/time/clock.h"
#include "core/time/timer_service.h"

namespace batchd::core {

class BatchReaders {
 public:
  using BatchPtr = std::shared_ptr<Batch>;
  template <typename T>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<T>)>;

  BatchReaders(const Clock& clock, TimerService& timers, size_t max_results_per_chunk)
      : clock_(clock), timers_(timers), max_results_per_chunk_(max_results_per_chunk) {}

  // Once results after `after` are readable (at most max_results_per_chunk), or with the
  // summary at the end of a finished batch.
  void ReadResults(BatchPtr batch, uint64_t after, Callback<ResultChunk> done);
  // Once the batch's version exceeds `after_version` (at once for 0), not before `not_before`;
  // a finished batch's last update once its end is durable.
  void WatchProgress(BatchPtr batch, uint64_t after_version, SteadyTime not_before,
                     Callback<ProgressUpdate> done);
  // Once the batch finished durably.
  void WaitForCompletion(BatchPtr batch, Callback<BatchSummary> done);

  // The batch changed in this turn: its waiters are tried again at NotifyChanged.
  void MarkChanged(const BatchPtr& batch) {
    if (batch->MarkChanged()) changed_.push_back(batch);
  }
  void NotifyChanged();

  // Daemon shutdown: a reader that would wait (now or when next woken) gets UNAVAILABLE.
  void Suspend() { suspended_ = true; }
  static absl::Status Suspended(const Batch& batch);
  static absl::Status NotFound(const std::string& batch_id);

 private:
  const Clock& clock_;
  TimerService& timers_;
  const size_t max_results_per_chunk_;
  std::vector<BatchPtr> changed_;
  bool suspended_ = false;
};

}  // namespace batchd::core
