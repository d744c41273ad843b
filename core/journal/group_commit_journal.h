// The journal the daemon runs: appends are queued under a mutex and one writer thread stores
// whatever has queued up in one transaction (group commit), then reports what became durable.
// When a write fails the journal is degraded: the batch and limit records of that group are
// refused (their batches never run, their limit changes do not take effect), new ones are
// refused at once, cache puts are dropped, event chunks, forgets and cache deletions are kept
// and retried in order with backoff (probing the storage when nothing waits) until a write
// succeeds again. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/journal/journal.h"
#include "core/journal/journal_storage.h"

namespace batchd::core {

struct GroupCommitOptions {
  // Wait before the first retry of a failed write; doubles up to max_retry_delay.
  absl::Duration first_retry_delay = absl::Milliseconds(50);
  absl::Duration max_retry_delay = absl::Seconds(1);
};

class GroupCommitJournal final : public Journal {
 public:
  explicit GroupCommitJournal(std::unique_ptr<JournalStorage> storage,
                              GroupCommitOptions options = {});
  // Close()s.
  ~GroupCommitJournal() override;

  void AppendBatch(BatchRecord record, absl::AnyInvocable<void(absl::Status)> stored) override;
  void StoreLimit(LimitRecord record, absl::AnyInvocable<void(absl::Status)> stored) override;
  void StoreCache(std::vector<CacheRecord> records) override;
  void AppendEvents(std::vector<EventChunk> chunks) override;
  void Forget(uint64_t batch_seq) override;
  void SetDurableListener(DurableListener listener) override;
  void SetWritableListener(WritableListener listener) override;

  // Stores what is queued (one last attempt when degraded) and stops the writer; later batch
  // records are refused, later events dropped.
  void Close();

  struct Stats {
    uint64_t commits = 0;
    uint64_t chunks = 0;
    uint64_t batches = 0;
    uint64_t failed_writes = 0;       // writes and probes that failed
    uint64_t refused_batches = 0;     // batch records not stored: those batches never ran
    uint64_t limits = 0;              // limit records stored
    uint64_t refused_limits = 0;      // limit records not stored: those changes were refused
    uint64_t cache_records = 0;       // cache records stored
    uint64_t dropped_cache_puts = 0;  // cache entries not stored (a failed write)
    bool writable = true;
  };
  Stats stats() const;

 private:
  using Stored = absl::AnyInvocable<void(absl::Status)>;
  struct Group {
    std::vector<BatchRecord> batches;
    std::vector<Stored> stored;  // one per batch record
    std::vector<EventChunk> chunks;
    std::vector<uint64_t> forgotten;
    std::vector<LimitRecord> limits;
    std::vector<Stored> limit_stored;  // one per limit record
    std::vector<CacheRecord> cache;
    bool empty() const {
      return batches.empty() && chunks.empty() && forgotten.empty() && limits.empty() &&
             cache.empty();
    }
  };
  void Run();
  // Waits for work (or, degraded, for the retry delay); false once closed with nothing left.
  bool NextGroup(Group& group) ABSL_LOCKS_EXCLUDED(mu_);
  void Commit(Group group);
  // The answer for a batch record that cannot be stored because of `cause`.
  static absl::Status Refusal(const absl::Status& cause);
  // The same for a limit record.
  static absl::Status LimitRefusal(const absl::Status& cause);

  std::unique_ptr<JournalStorage> storage_;  // used by the writer thread only
  const GroupCommitOptions options_;
  DurableListener listener_;            // set before appends start
  WritableListener writable_listener_;  // set before appends start

  mutable absl::Mutex mu_;
  Group pending_ ABSL_GUARDED_BY(mu_);
  // Chunks, forgets and cache deletions of failed writes, stored before anything newer.
  Group unstored_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);  // not OK while degraded
  absl::Duration retry_delay_ ABSL_GUARDED_BY(mu_);
  absl::Time degraded_since_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace batchd::core
