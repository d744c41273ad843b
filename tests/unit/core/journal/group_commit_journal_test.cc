// GroupCommitJournal over a storage that fails on demand: refused batch records, events kept
// and retried in order, probes while idle, the writable listener, and closing while degraded.
// The journal's writer is a real thread: tests wait for what it reports, never for time.
#include "core/journal/group_commit_journal.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/journal/journal_events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;

// Storage whose writes fail while `failing` is set; records what was stored.
class FakeStorage final : public JournalStorage {
 public:
  absl::Status Write(const std::vector<BatchRecord>& batches, const std::vector<EventChunk>& chunks,
                     const std::vector<uint64_t>& forgotten, const std::vector<LimitRecord>& limits,
                     const std::vector<CacheRecord>& cache) override {
    absl::MutexLock lock(&mu_);
    ++attempts_;
    if (failing_) return absl::UnavailableError("database or disk is full");
    for (const BatchRecord& b : batches) stored_.push_back("batch " + b.id);
    for (const EventChunk& c : chunks) stored_.push_back("events " + c.events);
    for (uint64_t seq : forgotten) stored_.push_back("forget " + std::to_string(seq));
    for (const LimitRecord& l : limits) stored_.push_back("limit " + l.key + "=" + l.spec);
    for (const CacheRecord& c : cache) {
      stored_.push_back(c.kind == CacheRecord::Kind::kPut ? "cache put " + c.key
                                                          : "cache erase " + c.key);
    }
    return absl::OkStatus();
  }
  absl::Status Probe() override {
    absl::MutexLock lock(&mu_);
    ++attempts_;
    ++probes_;
    return failing_ ? absl::UnavailableError("database or disk is full") : absl::OkStatus();
  }

  void SetFailing(bool failing) {
    absl::MutexLock lock(&mu_);
    failing_ = failing;
  }
  // Waits until at least `n` writes or probes were attempted in all.
  void AwaitAttempts(int n) {
    std::pair<FakeStorage*, int> arg(this, n);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::pair<FakeStorage*, int>* a)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->first->attempts_ >= a->second; },
        &arg));
  }
  std::vector<std::string> stored() {
    absl::MutexLock lock(&mu_);
    return stored_;
  }
  int probes() {
    absl::MutexLock lock(&mu_);
    return probes_;
  }

 private:
  absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  int probes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> stored_ ABSL_GUARDED_BY(mu_);
};

// What the journal reported, in order, with a way to wait for the next report.
class Reports {
 public:
  void Add(std::string line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back(std::move(line));
  }
  std::vector<std::string> AwaitCount(size_t n) {
    std::pair<Reports*, size_t> arg(this, n);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::pair<Reports*, size_t>* a)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->first->lines_.size() >= a->second; },
        &arg));
    return lines_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

class GroupCommitJournalTest : public ::testing::Test {
 protected:
  GroupCommitJournalTest() {
    spdlog::set_level(spdlog::level::off);
    auto storage = std::make_unique<FakeStorage>();
    storage_ = storage.get();
    journal_ = std::make_unique<GroupCommitJournal>(
        std::move(storage), GroupCommitOptions{absl::Milliseconds(1), absl::Milliseconds(4)});
    journal_->SetDurableListener([this](std::vector<DurableMark> marks) {
      for (const DurableMark& m : marks) reports_.Add("durable " + std::to_string(m.batch_seq));
    });
    journal_->SetWritableListener([this](absl::Status s) {
      reports_.Add(s.ok() ? "writable" : "not writable: " + std::string(s.message()));
    });
  }
  ~GroupCommitJournalTest() override { spdlog::set_level(spdlog::level::info); }

  void Append(uint64_t seq) {
    journal_->AppendBatch(
        BatchRecord{seq, "b" + std::to_string(seq), "", {}, ""}, [this, seq](absl::Status s) {
          reports_.Add("batch " + std::to_string(seq) + ": " + (s.ok() ? "OK" : s.ToString()));
        });
  }
  void Limit(std::string key, std::string spec) {
    journal_->StoreLimit(LimitRecord{key, std::move(spec)}, [this, key](absl::Status s) {
      reports_.Add("limit " + key + ": " + (s.ok() ? "OK" : s.ToString()));
    });
  }
  void Events(uint64_t seq, std::string events) {
    EventChunk chunk;
    chunk.batch_seq = seq;
    chunk.events = std::move(events);
    chunk.visible_results = 1;
    std::vector<EventChunk> chunks;
    chunks.push_back(std::move(chunk));
    journal_->AppendEvents(std::move(chunks));
  }

  FakeStorage* storage_ = nullptr;
  Reports reports_;
  std::unique_ptr<GroupCommitJournal> journal_;
};

constexpr char kRefusal[] =
    "UNAVAILABLE: batch not accepted, nothing of it runs: the journal cannot store it (database "
    "or disk is full); batchd retries the journal and accepts batches again once writes "
    "succeed (Health reports SERVING again)";

TEST_F(GroupCommitJournalTest, AFailedWriteRefusesItsBatchesAndLaterOnesUntilWritesSucceed) {
  Append(1);
  ASSERT_THAT(reports_.AwaitCount(1), ElementsAre("batch 1: OK"));
  storage_->SetFailing(true);
  Append(2);
  std::vector<std::string> seen = reports_.AwaitCount(3);
  EXPECT_EQ(seen[1], "not writable: database or disk is full");
  EXPECT_EQ(seen[2], std::string("batch 2: ") + kRefusal);
  // While degraded a batch is refused at once, on the caller's thread.
  Append(3);
  seen = reports_.AwaitCount(4);
  EXPECT_EQ(seen[3], std::string("batch 3: ") + kRefusal);
  EXPECT_FALSE(journal_->stats().writable);

  storage_->SetFailing(false);
  EXPECT_EQ(reports_.AwaitCount(5)[4], "writable");
  Append(4);
  EXPECT_EQ(reports_.AwaitCount(6)[5], "batch 4: OK");
  EXPECT_THAT(storage_->stored(), ElementsAre("batch b1", "batch b4"));
  const GroupCommitJournal::Stats stats = journal_->stats();
  EXPECT_TRUE(stats.writable);
  EXPECT_EQ(stats.refused_batches, 2u);
  EXPECT_GE(stats.failed_writes, 1u);
  EXPECT_EQ(stats.batches, 2u);
}

TEST_F(GroupCommitJournalTest, EventsThatCouldNotBeStoredAreRetriedInOrderAndOnlyThenDurable) {
  Append(1);
  reports_.AwaitCount(1);
  storage_->SetFailing(true);
  Events(1, "e1");
  reports_.AwaitCount(2);  // not writable
  Events(1, "e2");
  journal_->Forget(7);
  storage_->AwaitAttempts(4);  // failed again with everything queued
  EXPECT_THAT(storage_->stored(), ElementsAre("batch b1"));
  storage_->SetFailing(false);
  std::vector<std::string> seen = reports_.AwaitCount(4);
  EXPECT_EQ(seen[2], "writable");
  EXPECT_EQ(seen[3], "durable 1");  // one mark: the newest of the batch's chunks
  EXPECT_THAT(storage_->stored(), ElementsAre("batch b1", "events e1", "events e2", "forget 7"));
}

TEST_F(GroupCommitJournalTest, AFailedWriteDropsCachePutsAndKeepsCacheDeletionsForLater) {
  Append(1);
  reports_.AwaitCount(1);
  storage_->SetFailing(true);
  std::vector<CacheRecord> records(3);
  records[0].key = "k1";  // a put
  records[1].kind = CacheRecord::Kind::kErase;
  records[1].key = "k0";
  records[2].key = "k2";
  journal_->StoreCache(std::move(records));
  reports_.AwaitCount(2);  // not writable
  storage_->AwaitAttempts(3);
  storage_->SetFailing(false);
  // The retry that succeeds stores the kept deletion (it reports writable once it has).
  EXPECT_EQ(reports_.AwaitCount(3)[2], "writable");
  EXPECT_THAT(storage_->stored(), ElementsAre("batch b1", "cache erase k0"));
  const GroupCommitJournal::Stats stats = journal_->stats();
  EXPECT_EQ(stats.dropped_cache_puts, 2u);
  EXPECT_EQ(stats.cache_records, 1u);
}

TEST_F(GroupCommitJournalTest, DeferredResultsAreEncodedBeforeTheyAreStored) {
  Append(1);
  reports_.AwaitCount(1);
  auto result = std::make_shared<TaskResult>();
  result->task = 3;
  result->state = TaskState::kSucceeded;
  result->output = boost::json::value(42);
  EventChunk chunk;
  chunk.batch_seq = 1;
  chunk.events = "<";
  chunk.visible_results = 1;
  chunk.results.push_back({1, result.get()});
  chunk.events += ">";
  chunk.keep_alive = result;
  std::string expected = "<";
  EncodeResult(expected, *result);
  expected += ">";
  std::vector<EventChunk> chunks;
  chunks.push_back(std::move(chunk));
  journal_->AppendEvents(std::move(chunks));
  reports_.AwaitCount(2);  // durable 1
  EXPECT_THAT(storage_->stored(), ElementsAre("batch b1", "events " + expected));
  EXPECT_EQ(result.use_count(), 1);  // the journal let the result go once it was encoded
}

TEST_F(GroupCommitJournalTest, WithNothingToStoreADegradedJournalProbesUntilTheStorageTakesWrites) {
  storage_->SetFailing(true);
  Append(1);
  reports_.AwaitCount(2);
  storage_->AwaitAttempts(3);
  EXPECT_GE(storage_->probes(), 2);
  storage_->SetFailing(false);
  EXPECT_EQ(reports_.AwaitCount(3)[2], "writable");
  EXPECT_THAT(storage_->stored(), ElementsAre());
}

TEST_F(GroupCommitJournalTest, ClosingWhileDegradedTriesOnceMoreThenStopsAndRefusesNewBatches) {
  storage_->SetFailing(true);
  Append(1);
  reports_.AwaitCount(2);
  Events(1, "lost");
  journal_->Close();  // returns: no endless retrying at shutdown
  EXPECT_THAT(storage_->stored(), ElementsAre());
  Append(2);
  EXPECT_EQ(reports_.AwaitCount(3)[2],
            "batch 2: UNAVAILABLE: batch not accepted: batchd is shutting down and its journal "
            "is closed");
}

constexpr char kLimitRefusal[] =
    "UNAVAILABLE: limit change not made: the journal cannot store it (database or disk is "
    "full); try again once batchd's journal takes writes again (Health reports SERVING again)";

TEST_F(GroupCommitJournalTest, ALimitRecordIsReportedStoredOnceDurableInOrderWithOtherWrites) {
  Append(1);
  Limit("openai", "{\"v\":1}");
  Limit("tenant:42", "");
  EXPECT_THAT(reports_.AwaitCount(3),
              ElementsAre("batch 1: OK", "limit openai: OK", "limit tenant:42: OK"));
  EXPECT_THAT(storage_->stored(),
              ElementsAre("batch b1", "limit openai={\"v\":1}", "limit tenant:42="));
  EXPECT_EQ(journal_->stats().limits, 2u);
}

TEST_F(GroupCommitJournalTest, AFailedWriteRefusesItsLimitRecordsAndLaterOnesUntilWritesSucceed) {
  storage_->SetFailing(true);
  Limit("a", "x");
  std::vector<std::string> seen = reports_.AwaitCount(2);
  EXPECT_EQ(seen[0], "not writable: database or disk is full");
  EXPECT_EQ(seen[1], std::string("limit a: ") + kLimitRefusal);
  Limit("b", "y");  // refused at once while degraded
  EXPECT_EQ(reports_.AwaitCount(3)[2], std::string("limit b: ") + kLimitRefusal);

  storage_->SetFailing(false);
  EXPECT_EQ(reports_.AwaitCount(4)[3], "writable");
  Limit("c", "z");
  EXPECT_EQ(reports_.AwaitCount(5)[4], "limit c: OK");
  EXPECT_THAT(storage_->stored(), ElementsAre("limit c=z"));  // refused ones are not retried
  const GroupCommitJournal::Stats stats = journal_->stats();
  EXPECT_EQ(stats.refused_limits, 2u);
  EXPECT_EQ(stats.limits, 1u);
}

TEST_F(GroupCommitJournalTest, ALimitRecordAfterCloseIsRefused) {
  journal_->Close();
  Limit("a", "x");
  EXPECT_THAT(reports_.AwaitCount(1),
              ElementsAre("limit a: UNAVAILABLE: limit change not made: batchd is shutting down "
                          "and its journal is closed"));
  EXPECT_THAT(storage_->stored(), ElementsAre());
}

}  // namespace
}  // namespace batchd::core
