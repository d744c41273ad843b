// The journal the daemon runs: appends are queued under a mutex and one writer thread stores
// whatever has queued up in one transaction (group commit), then reports what became durable.
// Thread-safe. After a failed write the journal stops storing: later WhenDurable calls get
// the error, and durable marks are still reported so readers are not stalled.
#pragma once

#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/journal.h"
#include "core/journal_store.h"

namespace batchd::core {

class GroupCommitJournal final : public Journal {
 public:
  // What AppendBatch returns once closed.
  static constexpr Ticket kNeverDurable = ~Ticket{0};

  explicit GroupCommitJournal(std::unique_ptr<JournalStore> store);
  // Close()s.
  ~GroupCommitJournal() override;

  Ticket AppendBatch(BatchRecord record) override;
  void AppendEvents(std::vector<EventChunk> chunks) override;
  void Forget(uint64_t batch_seq) override;
  void WhenDurable(Ticket ticket, absl::AnyInvocable<void(absl::Status)> done) override;
  void SetDurableListener(DurableListener listener) override;

  // Stores what is queued and stops the writer; later appends are dropped.
  void Close();

  struct Stats {
    uint64_t commits = 0;
    uint64_t chunks = 0;
    uint64_t batches = 0;
  };
  Stats stats() const;

 private:
  struct Group {
    std::vector<BatchRecord> batches;
    std::vector<EventChunk> chunks;
    std::vector<uint64_t> forgotten;
    Ticket last_ticket = 0;
    bool empty() const { return batches.empty() && chunks.empty() && forgotten.empty(); }
  };
  void Run();
  void Commit(Group group);

  std::unique_ptr<JournalStore> store_;  // used by the writer thread only
  DurableListener listener_;             // set before appends start

  mutable absl::Mutex mu_;
  Group pending_ ABSL_GUARDED_BY(mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  Ticket durable_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<Ticket, absl::AnyInvocable<void(absl::Status)>>> waiters_
      ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace batchd::core
