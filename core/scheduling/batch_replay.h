// Replay of a batch's journal into the Batch read back at start-up: a pure function of the
// batch (as Create compiled it) and its stored events, beside Batch. Call on the strand that
// owns the batch (or before anyone else sees it).
#pragma once

#include <optional>
#include <vector>

#include "core/journal/journal_events.h"
#include "core/scheduling/batch.h"
#include "core/time/clock.h"

namespace batchd::core {

// What the journal leaves for the scheduler once it is replayed.
struct ReplayedJournal {
  // By task: when a task that was waiting for its retry delay is due (epoch for the others).
  std::vector<WallTime> retry_due;
  // The batch had finished (every task final, its end recorded): nothing resumes.
  bool finished = false;
  // Why tasks an AddTasks added could not be added again (e.g. their executor is gone).
  absl::Status extend_error;
};

// Applies `events` in order: attempts that started, requeueings, retry delays, final results
// (the first one stands), the cancellation and the end. What was replayed counts as durable.
// Events naming a task the batch does not have are ignored. `clock` converts the stored end
// to this process's steady time.
// Tasks added by AddTasks (kAdded, with added_tasks decoded) are appended with `extend`, in
// their place among the events; when it fails, the rest of the journal is replayed without them
// and `extend_error` says why.
using ExtendBatch = absl::FunctionRef<absl::Status(Batch&, std::vector<TaskSpec>)>;
ReplayedJournal ReplayJournal(Batch& batch, std::vector<JournalEvent> events, const Clock& clock,
                              ExtendBatch extend);
// For journals without added tasks (any kAdded fails with extend_error).
ReplayedJournal ReplayJournal(Batch& batch, std::vector<JournalEvent> events, const Clock& clock);

}  // namespace batchd::core
