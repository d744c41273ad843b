#include "core/scheduling/batch_replay.h"

#include <utility>

namespace batchd::core {
namespace {

// One event of a task; a task already final ignores it (a duplicate: the first result stands).
void ReplayTaskEvent(Batch& batch, JournalEvent& e, ReplayedJournal& out) {
  if (IsFinal(batch.slot(e.task).state)) return;
  switch (e.kind) {
    case JournalEventKind::kStarted:
      batch.RestoreStarted(e.task, e.retries);
      break;
    case JournalEventKind::kRequeued:
      batch.RestoreRequeued(e.task);
      break;
    case JournalEventKind::kAwaiting:
      batch.RestoreAwaiting(e.task, std::move(e.token), e.at);
      break;
    case JournalEventKind::kRetryWait:
      batch.RestoreRetryWait(e.task, e.retries);
      out.retry_due[e.task] = e.at;
      break;
    case JournalEventKind::kResult:
      batch.RestoreResult(e);
      break;
    case JournalEventKind::kCancelled:
    case JournalEventKind::kFinished:
    case JournalEventKind::kAdded:
    case JournalEventKind::kClosed:
      break;  // batch events
    case JournalEventKind::kCachedFrom:
      break;  // never decoded as an event: part of its result's
  }
}

}  // namespace

ReplayedJournal ReplayJournal(Batch& batch, std::vector<JournalEvent> events, const Clock& clock,
                              ExtendBatch extend) {
  ReplayedJournal out;
  out.retry_due.resize(batch.size());
  std::optional<WallTime> finished_at;
  for (JournalEvent& e : events) {
    if (e.kind == JournalEventKind::kAdded) {
      if (e.added_tasks == nullptr || !out.extend_error.ok()) continue;
      const uint64_t digest = AddTasksDigest(e.content);
      if (absl::Status added = extend(batch, std::move(*e.added_tasks)); !added.ok()) {
        out.extend_error = std::move(added);
        continue;
      }
      if (!e.reason.empty()) batch.add_requests()[e.reason] = digest;
      out.retry_due.resize(batch.size());
    } else if (e.kind == JournalEventKind::kClosed) {
      batch.Close();
    } else if (e.kind == JournalEventKind::kCancelled) {
      if (!batch.cancel_requested()) batch.MarkCancelled(std::move(e.reason));
    } else if (e.kind == JournalEventKind::kFinished) {
      finished_at = e.at;
    } else if (e.task < batch.size()) {  // else not this batch's task: ignore, never corrupt
      ReplayTaskEvent(batch, e, out);
    }
  }
  batch.MarkDurable(batch.visible_count(), false);
  if (finished_at.has_value() && batch.AllFinal()) {
    batch.RestoreFinished(clock.SteadyNow() +
                          std::chrono::duration_cast<Duration>(*finished_at - clock.WallNow()));
    batch.MarkDurable(batch.visible_count(), true);
    out.finished = true;
  }
  return out;
}

ReplayedJournal ReplayJournal(Batch& batch, std::vector<JournalEvent> events, const Clock& clock) {
  return ReplayJournal(batch, std::move(events), clock, [](Batch&, std::vector<TaskSpec>) {
    return absl::FailedPreconditionError("tasks added to the batch cannot be replayed here");
  });
}

}  // namespace batchd::core
