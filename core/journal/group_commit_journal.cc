#include "core/journal/group_commit_journal.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/journal/journal_events.h"
#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

template <typename T>
void AppendAll(std::vector<T>& to, std::vector<T>&& from) {
  if (to.empty()) {
    to = std::move(from);
  } else {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  }
}

// The newest mark of each batch in `chunks` (the last chunk of a batch carries it).
std::vector<DurableMark> MarksOf(const std::vector<EventChunk>& chunks) {
  std::vector<DurableMark> marks;
  absl::flat_hash_map<uint64_t, size_t> mark_of;
  for (const EventChunk& c : chunks) {
    auto [it, inserted] = mark_of.try_emplace(c.batch_seq, marks.size());
    if (inserted) marks.emplace_back();
    marks[it->second] = DurableMark{c.batch_seq, c.visible_results, c.finished, c.number};
  }
  return marks;
}

}  // namespace

GroupCommitJournal::GroupCommitJournal(std::unique_ptr<JournalStorage> storage,
                                       GroupCommitOptions options)
    : storage_(std::move(storage)),
      options_(options),
      retry_delay_(options.first_retry_delay),
      writer_([this] { Run(); }) {}

GroupCommitJournal::~GroupCommitJournal() { Close(); }

void GroupCommitJournal::SetDurableListener(DurableListener listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

void GroupCommitJournal::SetWritableListener(WritableListener listener) {
  absl::MutexLock lock(&mu_);
  writable_listener_ = std::move(listener);
}

absl::Status GroupCommitJournal::Refusal(const absl::Status& cause) {
  return absl::UnavailableError(absl::StrCat(
      "batch not accepted, nothing of it runs: the journal cannot store it (", cause.message(),
      "); batchd retries the journal and accepts batches again once writes succeed (Health "
      "reports SERVING again)"));
}

absl::Status GroupCommitJournal::LimitRefusal(const absl::Status& cause) {
  return absl::UnavailableError(absl::StrCat(
      "limit change not made: the journal cannot store it (", cause.message(),
      "); try again once batchd's journal takes writes again (Health reports SERVING again)"));
}

void GroupCommitJournal::AppendBatch(BatchRecord record, Stored stored) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) {
      refused = absl::UnavailableError(
          "batch not accepted: batchd is shutting down and its journal is closed");
    } else if (!failure_.ok()) {
      refused = Refusal(failure_);
      ++stats_.refused_batches;
    } else {
      pending_.batches.push_back(std::move(record));
      pending_.stored.push_back(std::move(stored));
      return;
    }
  }
  stored(std::move(refused));
}

void GroupCommitJournal::StoreLimit(LimitRecord record, Stored stored) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) {
      refused = absl::UnavailableError(
          "limit change not made: batchd is shutting down and its journal is closed");
    } else if (!failure_.ok()) {
      refused = LimitRefusal(failure_);
      ++stats_.refused_limits;
    } else {
      pending_.limits.push_back(std::move(record));
      pending_.limit_stored.push_back(std::move(stored));
      return;
    }
  }
  stored(std::move(refused));
}

void GroupCommitJournal::StoreCache(std::vector<CacheRecord> records) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  AppendAll(pending_.cache, std::move(records));
}

void GroupCommitJournal::AppendEvents(std::vector<EventChunk> chunks) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  AppendAll(pending_.chunks, std::move(chunks));
}

void GroupCommitJournal::Forget(uint64_t batch_seq) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  pending_.forgotten.push_back(batch_seq);
}

bool GroupCommitJournal::NextGroup(Group& group) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) {
    // Degraded: try again after the delay (at once when closing), with or without new work.
    mu_.AwaitWithTimeout(absl::Condition(&closing_), retry_delay_);
  } else {
    mu_.Await(absl::Condition(
        +[](GroupCommitJournal* j)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) { return j->closing_ || !j->pending_.empty(); },
        this));
  }
  if (closing_ && pending_.empty() && unstored_.empty()) return false;
  // What failed before goes first, so every batch's events stay in append order.
  group = std::exchange(unstored_, Group{});
  Group fresh = std::exchange(pending_, Group{});
  AppendAll(group.batches, std::move(fresh.batches));
  AppendAll(group.stored, std::move(fresh.stored));
  AppendAll(group.chunks, std::move(fresh.chunks));
  AppendAll(group.forgotten, std::move(fresh.forgotten));
  AppendAll(group.limits, std::move(fresh.limits));
  AppendAll(group.limit_stored, std::move(fresh.limit_stored));
  AppendAll(group.cache, std::move(fresh.cache));
  return true;
}

void GroupCommitJournal::Run() {
  for (Group group; NextGroup(group); group = Group{}) {
    Commit(std::move(group));
    absl::MutexLock lock(&mu_);
    if (closing_ && !failure_.ok()) {
      // The last attempt failed: what was not stored is lost; those batches resume from their
      // last stored state at the next start (running tasks run again).
      if (!unstored_.empty() || !pending_.empty()) {
        spdlog::error(
            "journal closed with {} event records not stored: their batches resume "
            "from their last stored state at the next start",
            unstored_.chunks.size() + pending_.chunks.size());
      }
      unstored_ = Group{};
      pending_ = Group{};
      return;
    }
  }
}

void GroupCommitJournal::Commit(Group group) {
  const bool probe = group.empty();
  // Results are encoded here, on the writer's thread, not on the scheduler's strand.
  for (EventChunk& chunk : group.chunks) EncodeDeferredResults(chunk);
  const absl::Status status = probe ? storage_->Probe()
                                    : storage_->Write(group.batches, group.chunks, group.forgotten,
                                                      group.limits, group.cache);
  std::vector<DurableMark> marks;
  if (status.ok()) marks = MarksOf(group.chunks);
  std::optional<absl::Status> writable_change;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      if (!probe) ++stats_.commits;
      stats_.chunks += group.chunks.size();
      stats_.batches += group.batches.size();
      stats_.limits += group.limits.size();
      stats_.cache_records += group.cache.size();
      if (!failure_.ok()) {
        spdlog::warn("journal: writes succeed again after {}: accepting batches again",
                     absl::FormatDuration(absl::Now() - degraded_since_));
        failure_ = absl::OkStatus();
        stats_.writable = true;
        writable_change = absl::OkStatus();
      }
      retry_delay_ = options_.first_retry_delay;
    } else {
      ++stats_.failed_writes;
      stats_.refused_batches += group.batches.size();
      stats_.refused_limits += group.limits.size();
      if (failure_.ok()) {
        spdlog::critical(
            "journal: {}; new batches are refused until writes succeed again "
            "(retrying every {} at most)",
            std::string(status.message()), absl::FormatDuration(options_.max_retry_delay));
        degraded_since_ = absl::Now();
        stats_.writable = false;
        writable_change = status;
        retry_delay_ = options_.first_retry_delay;
      } else {
        retry_delay_ = std::min(retry_delay_ * 2, options_.max_retry_delay);
      }
      failure_ = status;
      unstored_.chunks = std::move(group.chunks);
      unstored_.forgotten = std::move(group.forgotten);
      // A put not stored only costs a miss after a restart; a deletion not stored would bring
      // back what was dropped.
      for (CacheRecord& c : group.cache) {
        if (c.kind == CacheRecord::Kind::kPut) {
          ++stats_.dropped_cache_puts;
        } else {
          unstored_.cache.push_back(std::move(c));
        }
      }
    }
  }
  if (writable_change.has_value() && writable_listener_) writable_listener_(*writable_change);
  const absl::Status answer = status.ok() ? absl::OkStatus() : Refusal(status);
  for (Stored& stored : group.stored) stored(answer);
  const absl::Status limit_answer = status.ok() ? absl::OkStatus() : LimitRefusal(status);
  for (Stored& stored : group.limit_stored) stored(limit_answer);
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
