// Run-time limit changes (Scheduler::SetLimit / DeleteLimit), one at a time and in the order
// asked: each is checked against the limits in force, stored in the journal when there is one,
// and only once it is durable applied and answered -- so what a client was told is what a
// restart restores, and a change the journal refuses (a full disk) is refused to the client
// and changes nothing. Strand only; the journal's answers are posted back onto the strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/journal/journal.h"
#include "core/limits/limit_spec.h"
#include "core/limits/limit_table.h"
#include "core/scheduling/limit_gate.h"

namespace batchd::core {

class LimitChanges {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using SetDone = absl::AnyInvocable<void(absl::StatusOr<LimitState>)>;
  using DeleteDone = absl::AnyInvocable<void(absl::Status)>;

  // `journal` may be null (nothing is stored); `applied` runs after each change took effect
  // (the scheduler pumps: waiters on the key are reconsidered).
  LimitChanges(Strand strand, LimitGate& gate, Journal* journal,
               absl::AnyInvocable<void()> applied);

  // INVALID_ARGUMENT naming the field, RESOURCE_EXHAUSTED past the key bound, UNAVAILABLE when
  // the journal cannot store it; else the key's state once in force.
  void Set(LimitSpec spec, SetDone done);
  // NOT_FOUND when the key is not configured, UNAVAILABLE when the journal cannot store it.
  void Delete(std::string key, DeleteDone done);

  size_t pending() const { return queue_.size(); }

 private:
  struct Change {
    LimitSpec spec;  // a deletion: only the key
    bool deletes = false;
    SetDone set_done;
    DeleteDone delete_done;
  };

  void Enqueue(Change change);
  // Checks, then stores the change at the front of the queue (or answers it and goes on),
  // unless one is being stored.
  void StartFront();
  // The front change was stored (or the journal said why not): applies and answers it.
  void FinishFront(absl::Status stored);
  void Answer(Change& change, absl::Status status);

  Strand strand_;
  LimitGate& gate_;
  Journal* const journal_;
  absl::AnyInvocable<void()> applied_;
  std::deque<Change> queue_;  // in the order asked
  bool storing_ = false;      // the front one is in the journal
};

}  // namespace batchd::core
