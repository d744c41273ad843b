// The journal of one scheduler turn: events recorded during a turn are buffered per batch (in
// the batch's journal_events) and appended at the end of the turn as one chunk per batch, in
// the order the batches were first touched, each with what becomes readable once it is
// durable. Without a journal, or once stopped (daemon shutdown), nothing is recorded. Strand
// only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/journal/journal.h"
#include "core/scheduling/batch.h"

namespace batchd::core {

class TurnJournal {
 public:
  // `journal` may be null (nothing is recorded); else it must outlive this.
  explicit TurnJournal(Journal* journal) : journal_(journal) {}

  // Where this turn's events of `batch` are encoded; nullptr when nothing is recorded.
  std::string* Events(const std::shared_ptr<Batch>& batch);
  // Records `batch`'s final `result` (one of its recorded, immutable results) as the next event;
  // the journal's thread encodes it.
  void Result(const std::shared_ptr<Batch>& batch, const TaskResult& result);
  // Appends the turn's events (one chunk per batch that has any); nothing when there are none.
  void Flush();
  // Daemon shutdown: appends what is buffered, then records nothing more (running attempts run
  // again after the restart, so their ends must not be stored).
  void Stop() {
    Flush();
    stopped_ = true;
  }

  // Batches with events not yet flushed (for tests).
  size_t pending() const { return dirty_.size(); }

 private:
  Journal* const journal_;
  std::vector<std::shared_ptr<Batch>> dirty_;  // batches with events not yet flushed
  bool stopped_ = false;
};

}  // namespace batchd::core
