#include "core/scheduling/batch_readers.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace batchd::core {

absl::Status BatchReaders::Suspended(const Batch& batch) {
  return absl::UnavailableError(absl::StrCat("batchd is shutting down; batch ", batch.id(),
                                             " resumes when the daemon restarts"));
}

absl::Status BatchReaders::NotFound(const std::string& batch_id) {
  return absl::NotFoundError(absl::StrCat("Batch '", batch_id, "' not found"));
}

void BatchReaders::NotifyChanged() {
  while (!changed_.empty()) {
    std::vector<BatchPtr> changed;
    changed.swap(changed_);
    for (const BatchPtr& batch : changed) {
      batch->ClearChanged();
      std::vector<absl::AnyInvocable<void()>> waiters;
      waiters.swap(batch->change_waiters());
      for (auto& waiter : waiters) waiter();
    }
  }
}

void BatchReaders::ReadResults(BatchPtr batch, uint64_t after, Callback<ResultChunk> done) {
  ResultChunk chunk = batch->ReadResults(after, max_results_per_chunk_);
  if (!chunk.results.empty() || chunk.summary.has_value()) return done(std::move(chunk));
  if (suspended_) return done(Suspended(*batch));
  Batch& b = *batch;
  b.change_waiters().push_back(
      [this, batch = std::move(batch), after, done = std::move(done)]() mutable {
        ReadResults(std::move(batch), after, std::move(done));
      });
}

void BatchReaders::WaitForCompletion(BatchPtr batch, Callback<BatchSummary> done) {
  if (batch->finished_durably()) return done(batch->Summary());
  if (suspended_) return done(Suspended(*batch));
  Batch& b = *batch;
  b.change_waiters().push_back([this, batch = std::move(batch), done = std::move(done)]() mutable {
    WaitForCompletion(std::move(batch), std::move(done));
  });
}

void BatchReaders::WatchProgress(BatchPtr batch, uint64_t after_version, SteadyTime not_before,
                                 Callback<ProgressUpdate> done) {
  const SteadyTime now = clock_.SteadyNow();
  Batch& b = *batch;
  // A finished batch's update is the last one, sent once its end is durable (like its
  // results): until then the reader waits, and never sees an end that a crash could undo.
  const bool final = b.finished_durably();
  const bool wait = b.finished() ? !final : after_version != 0 && b.version() <= after_version;
  if (wait) {
    if (suspended_) return done(Suspended(b));
    b.change_waiters().push_back([this, batch = std::move(batch), after_version, not_before,
                                  done = std::move(done)]() mutable {
      WatchProgress(std::move(batch), after_version, not_before, std::move(done));
    });
    return;
  }
  if (now < not_before && !final) {
    // Holds the batch weakly: a reader waiting out a long interval must not keep the batch past
    // its retention (a retired batch is gone for its readers).
    timers_.ScheduleAt(not_before, [this, weak = std::weak_ptr<Batch>(batch), id = b.id(),
                                    after_version, not_before, done = std::move(done)]() mutable {
      BatchPtr alive = weak.lock();
      if (alive == nullptr || alive->retired()) return done(NotFound(id));
      WatchProgress(std::move(alive), after_version, not_before, std::move(done));
    });
    return;
  }
  ProgressUpdate update;
  update.progress = b.Progress();
  update.version = b.version();
  update.delivered_at = now;
  update.final = final;
  done(std::move(update));
}

}  // namespace batchd::core
