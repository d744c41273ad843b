// ReplayJournal: a batch's stored events applied to the Batch read back at start-up.
#include "core/scheduling/batch_replay.h"

#include <chrono>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using testing::ManualTask;

JournalEvent Event(JournalEventKind kind, uint32_t task = 0, uint32_t retries = 0) {
  JournalEvent e;
  e.kind = kind;
  e.task = task;
  e.retries = retries;
  return e;
}

class BatchReplayTest : public ::testing::Test {
 protected:
  std::shared_ptr<Batch> Journaled() {
    auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b", {"a"})});
    batch->SetJournaled();
    return batch;
  }
  JournalEvent Result(uint32_t task, TaskState state, int output) {
    JournalEvent e = Event(JournalEventKind::kResult, task);
    e.state = state;
    e.output = output;
    e.started_at = clock_.WallNow() - std::chrono::seconds(1);
    e.at = clock_.WallNow();
    e.duration_ms = 1000;
    return e;
  }

  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
};

TEST_F(BatchReplayTest, NoEventsLeaveThePendingBatchAsCreated) {
  auto batch = Journaled();
  const ReplayedJournal replayed = ReplayJournal(*batch, {}, clock_);
  EXPECT_FALSE(replayed.finished);
  EXPECT_EQ(replayed.retry_due.size(), 2u);
  EXPECT_EQ(batch->state(), BatchState::kPending);
  EXPECT_EQ(batch->slot(0).state, TaskState::kPending);
  EXPECT_EQ(batch->completed(), 0u);
}

TEST_F(BatchReplayTest, AStartedAttemptIsRunningWithItsRetries) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  events.push_back(Event(JournalEventKind::kStarted, 0, 2));
  ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_EQ(batch->slot(0).state, TaskState::kRunning);
  EXPECT_EQ(batch->slot(0).retries, 2u);
  EXPECT_EQ(batch->slot(0).generation, 1u);
  EXPECT_EQ(batch->state(), BatchState::kRunning);
}

TEST_F(BatchReplayTest, ARequeuedAttemptIsPendingAgain) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  events.push_back(Event(JournalEventKind::kStarted, 0, 0));
  events.push_back(Event(JournalEventKind::kRequeued, 0));
  ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_EQ(batch->slot(0).state, TaskState::kPending);
}

TEST_F(BatchReplayTest, ARetryDelayIsReplayedWithWhenItIsDue) {
  auto batch = Journaled();
  const WallTime due = clock_.WallNow() + std::chrono::seconds(30);
  std::vector<JournalEvent> events;
  events.push_back(Event(JournalEventKind::kStarted, 0, 0));
  JournalEvent wait = Event(JournalEventKind::kRetryWait, 0, 1);
  wait.at = due;
  events.push_back(wait);
  const ReplayedJournal replayed = ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_EQ(batch->slot(0).state, TaskState::kRetryWait);
  EXPECT_EQ(batch->slot(0).retries, 1u);
  EXPECT_EQ(replayed.retry_due[0], due);
  EXPECT_EQ(replayed.retry_due[1], WallTime{});
}

TEST_F(BatchReplayTest, TheFirstResultStandsAndIsDurable) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  events.push_back(Event(JournalEventKind::kStarted, 0, 0));
  events.push_back(Result(0, TaskState::kSucceeded, 1));
  events.push_back(Result(0, TaskState::kFailed, 2));         // a duplicate: ignored
  events.push_back(Event(JournalEventKind::kStarted, 0, 5));  // after the end: ignored
  const ReplayedJournal replayed = ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_FALSE(replayed.finished);
  EXPECT_EQ(batch->completed(), 1u);
  ASSERT_NE(batch->result(0), nullptr);
  EXPECT_EQ(batch->result(0)->state, TaskState::kSucceeded);
  EXPECT_EQ(batch->result(0)->output, boost::json::value(1));
  EXPECT_EQ(batch->slot(0).state, TaskState::kSucceeded);
  EXPECT_EQ(batch->slot(1).remaining_deps, 0u);  // its dependent was released
  // Replayed results are durable: a reader sees them at once.
  const ResultChunk chunk = batch->ReadResults(0, 10);
  ASSERT_EQ(chunk.results.size(), 1u);
  EXPECT_EQ(*chunk.results[0]->task_id, "a");
}

TEST_F(BatchReplayTest, EventsOfATaskTheBatchDoesNotHaveAreIgnored) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  events.push_back(Event(JournalEventKind::kStarted, 7, 0));
  events.push_back(Result(99, TaskState::kSucceeded, 1));
  const ReplayedJournal replayed = ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_EQ(batch->completed(), 0u);
  EXPECT_EQ(batch->state(), BatchState::kPending);
  EXPECT_EQ(replayed.retry_due.size(), 2u);
}

TEST_F(BatchReplayTest, TheFirstCancellationKeepsItsReason) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  JournalEvent first = Event(JournalEventKind::kCancelled);
  first.reason = "by client";
  JournalEvent second = Event(JournalEventKind::kCancelled);
  second.reason = "shutdown";
  events.push_back(first);
  events.push_back(second);
  ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_TRUE(batch->cancel_requested());
  EXPECT_EQ(batch->cancel_reason(), "by client");
}

TEST_F(BatchReplayTest, TheEndIsReplayedOnlyOnceEveryTaskIsFinal) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  events.push_back(Result(0, TaskState::kSucceeded, 1));
  JournalEvent end = Event(JournalEventKind::kFinished);
  end.at = clock_.WallNow();
  events.push_back(end);
  const ReplayedJournal replayed = ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_FALSE(replayed.finished);  // "b" has no result: the end is not believed
  EXPECT_FALSE(batch->finished());
}

TEST_F(BatchReplayTest, AFinishedBatchEndsAtItsStoredTimeDurably) {
  auto batch = Journaled();
  std::vector<JournalEvent> events;
  events.push_back(Result(0, TaskState::kSucceeded, 1));
  events.push_back(Result(1, TaskState::kSucceeded, 2));
  JournalEvent end = Event(JournalEventKind::kFinished);
  end.at = clock_.WallNow() - std::chrono::seconds(20);
  events.push_back(end);
  const ReplayedJournal replayed = ReplayJournal(*batch, std::move(events), clock_);
  EXPECT_TRUE(replayed.finished);
  EXPECT_EQ(batch->state(), BatchState::kSucceeded);
  EXPECT_TRUE(batch->finished_durably());
  EXPECT_EQ(batch->finished_steady(), clock_.SteadyNow() - std::chrono::seconds(20));
  const ResultChunk end_chunk = batch->ReadResults(2, 10);
  ASSERT_TRUE(end_chunk.summary.has_value());
  EXPECT_EQ(end_chunk.summary->successful_count, 2u);
}

}  // namespace
}  // namespace batchd::core
