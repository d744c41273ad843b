// A journal kept in memory whose writes become durable only when the test calls Commit(), and
// whose stored state reads back like JournalStore::LoadAll (for restart tests). Single-threaded.
#pragma once

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "core/journal.h"

namespace batchd::testing {

class FakeJournal final : public core::Journal {
 public:
  Ticket AppendBatch(core::BatchRecord record) override {
    pending_batches_.push_back(std::move(record));
    return ++last_ticket_;
  }
  void AppendEvents(std::vector<core::EventChunk> chunks) override {
    for (core::EventChunk& c : chunks) pending_chunks_.push_back(std::move(c));
  }
  void Forget(uint64_t batch_seq) override { pending_forgets_.push_back(batch_seq); }
  void WhenDurable(Ticket ticket, absl::AnyInvocable<void(absl::Status)> done) override {
    if (ticket <= durable_ticket_) return done(absl::OkStatus());
    waiters_.emplace_back(ticket, std::move(done));
  }
  void SetDurableListener(DurableListener listener) override { listener_ = std::move(listener); }

  // Stores everything appended so far, then reports it durable.
  void Commit() {
    for (core::BatchRecord& r : pending_batches_) stored_[r.seq].record = std::move(r);
    std::vector<core::DurableMark> marks;
    for (core::EventChunk& c : pending_chunks_) {
      auto it = stored_.find(c.batch_seq);
      if (it != stored_.end()) it->second.events += c.events;
      marks.push_back({c.batch_seq, c.visible_results, c.finished});
    }
    for (uint64_t seq : pending_forgets_) stored_.erase(seq);
    pending_batches_.clear();
    pending_chunks_.clear();
    pending_forgets_.clear();
    durable_ticket_ = last_ticket_;
    std::vector<std::pair<Ticket, absl::AnyInvocable<void(absl::Status)>>> waiters;
    waiters.swap(waiters_);
    for (auto& [ticket, done] : waiters) done(absl::OkStatus());
    if (!marks.empty() && listener_) listener_(std::move(marks));
  }

  // What a restart would read back (only what was committed).
  std::vector<core::StoredBatch> Stored() const {
    std::vector<core::StoredBatch> out;
    for (const auto& [seq, batch] : stored_) out.push_back(batch);
    return out;
  }
  // Replaces what is stored for a batch's events (to stage a crash between two records).
  void SetStoredEvents(uint64_t batch_seq, std::string events) {
    stored_.at(batch_seq).events = std::move(events);
  }
  size_t pending_chunks() const { return pending_chunks_.size(); }

 private:
  Ticket last_ticket_ = 0;
  Ticket durable_ticket_ = 0;
  std::vector<core::BatchRecord> pending_batches_;
  std::vector<core::EventChunk> pending_chunks_;
  std::vector<uint64_t> pending_forgets_;
  std::map<uint64_t, core::StoredBatch> stored_;
  std::vector<std::pair<Ticket, absl::AnyInvocable<void(absl::Status)>>> waiters_;
  DurableListener listener_;
};

}  // namespace batchd::testing
