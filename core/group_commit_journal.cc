#include "core/group_commit_journal.h"

#include "absl/container/flat_hash_map.h"
#include "spdlog/spdlog.h"

namespace batchd::core {

GroupCommitJournal::GroupCommitJournal(std::unique_ptr<JournalStore> store)
    : store_(std::move(store)), writer_([this] { Run(); }) {}

GroupCommitJournal::~GroupCommitJournal() { Close(); }

void GroupCommitJournal::SetDurableListener(DurableListener listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

Journal::Ticket GroupCommitJournal::AppendBatch(BatchRecord record) {
  absl::MutexLock lock(&mu_);
  if (closing_) return kNeverDurable;
  pending_.batches.push_back(std::move(record));
  pending_.last_ticket = next_ticket_;
  return next_ticket_++;
}

void GroupCommitJournal::AppendEvents(std::vector<EventChunk> chunks) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  if (pending_.chunks.empty()) {
    pending_.chunks = std::move(chunks);
  } else {
    for (EventChunk& c : chunks) pending_.chunks.push_back(std::move(c));
  }
}

void GroupCommitJournal::Forget(uint64_t batch_seq) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  pending_.forgotten.push_back(batch_seq);
}

void GroupCommitJournal::WhenDurable(Ticket ticket, absl::AnyInvocable<void(absl::Status)> done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (ticket == 0) {
      status = absl::OkStatus();  // nothing was appended: nothing to wait for
    } else if (failure_.ok() && ticket == kNeverDurable) {
      status = absl::UnavailableError("batchd is shutting down: the journal is closed");
    } else if (failure_.ok() && ticket > durable_) {
      waiters_.emplace_back(ticket, std::move(done));
      return;
    } else {
      status = failure_;
    }
  }
  done(std::move(status));
}

void GroupCommitJournal::Run() {
  for (;;) {
    Group group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitJournal* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
            return j->closing_ || !j->pending_.empty();
          },
          this));
      if (pending_.empty() && closing_) return;
      group = std::exchange(pending_, Group{});
    }
    Commit(std::move(group));
  }
}

void GroupCommitJournal::Commit(Group group) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = failure_;
  }
  if (status.ok()) status = store_->Write(group.batches, group.chunks, group.forgotten);
  if (!status.ok()) {
    spdlog::critical("{}; batches accepted from now on are refused, running ones go on in memory",
                     std::string(status.message()));
  }
  // The last chunk of each batch carries its newest mark.
  std::vector<DurableMark> marks;
  absl::flat_hash_map<uint64_t, size_t> mark_of;
  for (const EventChunk& c : group.chunks) {
    auto [it, inserted] = mark_of.try_emplace(c.batch_seq, marks.size());
    if (inserted) marks.emplace_back();
    marks[it->second] = DurableMark{c.batch_seq, c.visible_results, c.finished};
  }
  std::vector<absl::AnyInvocable<void(absl::Status)>> ready;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.commits;
    stats_.chunks += group.chunks.size();
    stats_.batches += group.batches.size();
    if (!status.ok() && failure_.ok()) failure_ = status;
    if (group.last_ticket > durable_) durable_ = group.last_ticket;
    std::erase_if(waiters_, [&](auto& w) {
      if (!failure_.ok() || w.first <= durable_) {
        ready.push_back(std::move(w.second));
        return true;
      }
      return false;
    });
  }
  for (auto& done : ready) done(status.ok() ? absl::OkStatus() : status);
  if (!marks.empty() && listener_) listener_(std::move(marks));
}

void GroupCommitJournal::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closing_ = true;
    closed_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

GroupCommitJournal::Stats GroupCommitJournal::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace batchd::core
