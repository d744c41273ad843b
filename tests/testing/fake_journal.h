// A journal kept in memory whose writes become durable only when the test calls Commit() (or
// fail when it calls Fail()), and whose stored state reads back like JournalStore::LoadAll (for
// restart tests): batches, the newest limit record of each key, and the cache's entries.
// Single-threaded.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/journal/journal.h"
#include "core/journal/journal_events.h"

namespace batchd::testing {

class FakeJournal final : public core::Journal {
 public:
  void AppendBatch(core::BatchRecord record,
                   absl::AnyInvocable<void(absl::Status)> stored) override {
    pending_batches_.emplace_back(std::move(record), std::move(stored));
  }
  void AppendEvents(std::vector<core::EventChunk> chunks) override {
    for (core::EventChunk& c : chunks) {
      core::EncodeDeferredResults(c);  // as the real journal does on its thread
      pending_chunks_.push_back(std::move(c));
    }
  }
  void Forget(uint64_t batch_seq) override { pending_forgets_.push_back(batch_seq); }
  void StoreLimit(core::LimitRecord record,
                  absl::AnyInvocable<void(absl::Status)> stored) override {
    pending_limits_.emplace_back(std::move(record), std::move(stored));
  }
  void StoreCache(std::vector<core::CacheRecord> records) override {
    for (core::CacheRecord& r : records) pending_cache_.push_back(std::move(r));
  }
  void SetDurableListener(DurableListener listener) override { listener_ = std::move(listener); }
  void SetWritableListener(WritableListener listener) override {
    writable_listener_ = std::move(listener);
  }

  // Stores everything appended so far, then reports it durable.
  void Commit() {
    std::vector<absl::AnyInvocable<void(absl::Status)>> stored;
    for (auto& [r, done] : pending_batches_) {
      stored_[r.seq].record = std::move(r);
      stored.push_back(std::move(done));
    }
    std::vector<core::DurableMark> marks;
    for (core::EventChunk& c : pending_chunks_) {
      auto it = stored_.find(c.batch_seq);
      if (it != stored_.end()) it->second.events += c.events;
      marks.push_back({c.batch_seq, c.visible_results, c.finished, c.number});
    }
    for (uint64_t seq : pending_forgets_) stored_.erase(seq);
    for (auto& [l, done] : pending_limits_) {
      stored_limits_[l.key] = std::move(l);
      stored.push_back(std::move(done));
    }
    for (core::CacheRecord& c : pending_cache_) ApplyCache(std::move(c));
    pending_batches_.clear();
    pending_chunks_.clear();
    pending_forgets_.clear();
    pending_limits_.clear();
    pending_cache_.clear();
    for (auto& done : stored) done(absl::OkStatus());
    if (!marks.empty() && listener_) listener_(std::move(marks));
  }

  // Stores only the pending batch records (their batches are admitted), leaving events pending.
  void CommitBatches() {
    std::vector<std::pair<core::BatchRecord, absl::AnyInvocable<void(absl::Status)>>> batches;
    batches.swap(pending_batches_);
    for (auto& [r, done] : batches) stored_[r.seq].record = r;
    for (auto& [r, done] : batches) done(absl::OkStatus());
  }

  // A failed write: the pending batch and limit records are refused with `error`; events and
  // forgets stay pending (the real journal retries them).
  void Fail(const absl::Status& error) {
    std::vector<std::pair<core::BatchRecord, absl::AnyInvocable<void(absl::Status)>>> refused;
    refused.swap(pending_batches_);
    std::vector<std::pair<core::LimitRecord, absl::AnyInvocable<void(absl::Status)>>> limits;
    limits.swap(pending_limits_);
    for (auto& [r, done] : refused) done(error);
    for (auto& [l, done] : limits) done(error);
    std::erase_if(pending_cache_, [](const core::CacheRecord& c) {
      return c.kind == core::CacheRecord::Kind::kPut;  // dropped; deletions stay pending
    });
  }

  // What a restart would read back (only what was committed).
  std::vector<core::StoredBatch> Stored() const {
    std::vector<core::StoredBatch> out;
    for (const auto& [seq, batch] : stored_) out.push_back(batch);
    return out;
  }
  // The stored limit records by key, as JournalContents::limits (only what was committed).
  std::vector<core::LimitRecord> StoredLimits() const {
    std::vector<core::LimitRecord> out;
    for (const auto& [key, record] : stored_limits_) out.push_back(record);
    return out;
  }
  // The stored cache entries, least recently stored first, as JournalContents::cache.
  const std::vector<core::CacheRecord>& StoredCache() const { return stored_cache_; }
  // Replaces what is stored for a batch's events (to stage a crash between two records).
  void SetStoredEvents(uint64_t batch_seq, std::string events) {
    stored_.at(batch_seq).events = std::move(events);
  }
  size_t pending_chunks() const { return pending_chunks_.size(); }
  size_t pending_batches() const { return pending_batches_.size(); }
  size_t pending_limits() const { return pending_limits_.size(); }
  const std::vector<core::CacheRecord>& pending_cache() const { return pending_cache_; }

 private:
  void ApplyCache(core::CacheRecord c) {
    using Kind = core::CacheRecord::Kind;
    std::erase_if(stored_cache_, [&](const core::CacheRecord& s) {
      switch (c.kind) {
        case Kind::kPut:
        case Kind::kErase:
          return s.key == c.key;
        case Kind::kEraseNamespace:
          return s.name_space == c.name_space;
        case Kind::kClear:
          return true;
      }
      return false;
    });
    if (c.kind == Kind::kPut) stored_cache_.push_back(std::move(c));
  }

  std::vector<std::pair<core::BatchRecord, absl::AnyInvocable<void(absl::Status)>>>
      pending_batches_;
  std::vector<core::EventChunk> pending_chunks_;
  std::vector<uint64_t> pending_forgets_;
  std::vector<std::pair<core::LimitRecord, absl::AnyInvocable<void(absl::Status)>>> pending_limits_;
  std::map<uint64_t, core::StoredBatch> stored_;
  std::map<std::string, core::LimitRecord> stored_limits_;
  std::vector<core::CacheRecord> pending_cache_;
  std::vector<core::CacheRecord> stored_cache_;
  DurableListener listener_;
  WritableListener writable_listener_;
};

}  // namespace batchd::testing
