// BatchReaders: reads answered at once when they can be, else woken after their batch changes;
// only what is durable is shown for a journaled batch.
#include "core/scheduling/batch_readers.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::ManualTask;

class BatchReadersTest : public ::testing::Test {
 protected:
  BatchReadersTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {}

  std::shared_ptr<Batch> ThreeTasks(uint64_t seq = 1) {
    return batches_.Make(seq, {ManualTask("a"), ManualTask("b"), ManualTask("c")});
  }
  // The end of a turn in which `batch` changed.
  void Changed(const std::shared_ptr<Batch>& batch) {
    readers_.MarkChanged(batch);
    readers_.NotifyChanged();
  }
  static std::vector<std::string> Ids(const ResultChunk& chunk) {
    std::vector<std::string> ids;
    for (const TaskResult* r : chunk.results) ids.push_back(*r->task_id);
    return ids;
  }

  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  testing::TestBatches batches_{clock_};
  BatchReaders readers_{clock_, timers_, 2};
};

TEST_F(BatchReadersTest, ResultsAreReadAtOnceAtMostAChunkAtATime) {
  auto batch = ThreeTasks();
  batches_.RunNext(*batch);
  batches_.RunNext(*batch);
  batches_.RunNext(*batch);
  std::optional<absl::StatusOr<ResultChunk>> read;
  readers_.ReadResults(batch, 0, [&](absl::StatusOr<ResultChunk> c) { read = std::move(c); });
  ASSERT_TRUE(read.has_value());
  ASSERT_TRUE(read->ok());
  EXPECT_THAT(Ids(**read), ElementsAre("a", "b"));
  EXPECT_EQ((*read)->last_sequence, 2u);
  EXPECT_FALSE((*read)->summary.has_value());
}

TEST_F(BatchReadersTest, AReaderWithNothingNewWaitsUntilTheBatchChanges) {
  auto batch = ThreeTasks();
  int calls = 0;
  std::optional<ResultChunk> read;
  readers_.ReadResults(batch, 0, [&](absl::StatusOr<ResultChunk> c) {
    ++calls;
    read = *std::move(c);
  });
  EXPECT_EQ(calls, 0);
  Changed(batch);  // a change without results: the reader waits on
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(batch->change_waiters().size(), 1u);

  batches_.RunNext(*batch);
  readers_.MarkChanged(batch);
  readers_.MarkChanged(batch);  // marked twice in one turn: woken once
  EXPECT_EQ(calls, 0);          // not before the end of the turn
  readers_.NotifyChanged();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(Ids(*read), ElementsAre("a"));
  EXPECT_TRUE(batch->change_waiters().empty());
}

TEST_F(BatchReadersTest, AtTheEndOfAFinishedBatchTheReaderGetsTheSummary) {
  auto batch = batches_.Make(1);
  batches_.RunToEnd(*batch);
  std::optional<ResultChunk> read;
  readers_.ReadResults(batch, 1, [&](absl::StatusOr<ResultChunk> c) { read = *std::move(c); });
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->results.empty());
  EXPECT_EQ(read->last_sequence, 1u);
  ASSERT_TRUE(read->summary.has_value());
  EXPECT_EQ(read->summary->state, BatchState::kSucceeded);
  EXPECT_EQ(read->summary->successful_count, 1u);
  EXPECT_TRUE(read->summary->results.empty());
}

TEST_F(BatchReadersTest, AJournaledBatchShowsOnlyDurableResultsAndEnd) {
  auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b")});
  batch->SetJournaled();
  batches_.RunNext(*batch);
  batches_.RunNext(*batch);
  batch->Finish(clock_.SteadyNow());
  std::vector<ResultChunk> reads;
  std::optional<absl::StatusOr<BatchSummary>> completion;
  readers_.ReadResults(batch, 0, [&](absl::StatusOr<ResultChunk> c) { reads.push_back(*c); });
  readers_.WaitForCompletion(batch, [&](absl::StatusOr<BatchSummary> s) { completion = s; });
  EXPECT_TRUE(reads.empty());
  EXPECT_FALSE(completion.has_value());

  batch->MarkDurable(1, false);
  Changed(batch);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_THAT(Ids(reads[0]), ElementsAre("a"));
  EXPECT_FALSE(completion.has_value());  // finished, but not durably

  batch->MarkDurable(2, true);
  Changed(batch);
  ASSERT_TRUE(completion.has_value());
  ASSERT_TRUE(completion->ok());
  EXPECT_EQ((*completion)->state, BatchState::kSucceeded);
  EXPECT_EQ((*completion)->total_tasks, 2u);
}

TEST_F(BatchReadersTest, WatchProgressAnswersAtOnceForVersionZeroElseAfterANewVersion) {
  auto batch = ThreeTasks();
  batches_.RunNext(*batch);
  std::vector<ProgressUpdate> updates;
  auto record = [&](absl::StatusOr<ProgressUpdate> u) { updates.push_back(*u); };
  readers_.WatchProgress(batch, 0, SteadyTime{}, record);
  ASSERT_EQ(updates.size(), 1u);
  const uint64_t seen = updates[0].version;
  EXPECT_EQ(seen, batch->version());
  EXPECT_FALSE(updates[0].final);
  EXPECT_EQ(updates[0].progress.total_tasks, 3u);
  EXPECT_EQ(updates[0].progress.completed_tasks, 1u);

  readers_.WatchProgress(batch, seen, SteadyTime{}, record);
  Changed(batch);  // no new version: it waits on
  EXPECT_EQ(updates.size(), 1u);
  batches_.RunNext(*batch);
  Changed(batch);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_GT(updates[1].version, seen);
  EXPECT_EQ(updates[1].progress.completed_tasks, 2u);
  EXPECT_EQ(updates[1].delivered_at, clock_.SteadyNow());
}

TEST_F(BatchReadersTest, WatchProgressIsNotAnsweredBeforeNotBefore) {
  auto batch = ThreeTasks();
  const SteadyTime not_before = clock_.SteadyNow() + milliseconds(500);
  std::vector<ProgressUpdate> updates;
  readers_.WatchProgress(batch, 0, not_before,
                         [&](absl::StatusOr<ProgressUpdate> u) { updates.push_back(*u); });
  EXPECT_TRUE(updates.empty());
  EXPECT_EQ(timers_.pending(), 1u);
  timers_.Advance(milliseconds(499));
  EXPECT_TRUE(updates.empty());
  timers_.Advance(milliseconds(1));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].delivered_at, not_before);
}

TEST_F(BatchReadersTest, AWatcherWaitingOutItsIntervalDoesNotKeepARetiredBatch) {
  std::optional<absl::Status> status;
  {
    auto batch = ThreeTasks();
    readers_.WatchProgress(batch, 0, clock_.SteadyNow() + milliseconds(100),
                           [&](absl::StatusOr<ProgressUpdate> u) { status = u.status(); });
    batch->Retire();
  }
  timers_.Advance(milliseconds(100));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, absl::NotFoundError("Batch 'batch-1' not found"));
}

TEST_F(BatchReadersTest, OnceSuspendedReadersThatWouldWaitAreUnavailable) {
  auto batch = ThreeTasks();
  batch->Touch();  // a version a watcher has seen
  std::optional<absl::Status> woken;
  readers_.ReadResults(batch, 0, [&](absl::StatusOr<ResultChunk> c) { woken = c.status(); });
  readers_.Suspend();
  Changed(batch);
  const absl::Status expected = absl::UnavailableError(
      "batchd is shutting down; batch batch-1 resumes when the daemon restarts");
  EXPECT_EQ(woken, expected);

  std::optional<absl::Status> completion;
  readers_.WaitForCompletion(batch,
                             [&](absl::StatusOr<BatchSummary> s) { completion = s.status(); });
  EXPECT_EQ(completion, expected);  // at once
  std::optional<absl::Status> watch;
  readers_.WatchProgress(batch, batch->version(), SteadyTime{},
                         [&](absl::StatusOr<ProgressUpdate> u) { watch = u.status(); });
  EXPECT_EQ(watch, expected);
  // A read that can be answered still is.
  batches_.RunNext(*batch);
  std::optional<absl::StatusOr<ResultChunk>> read;
  readers_.ReadResults(batch, 0, [&](absl::StatusOr<ResultChunk> c) { read = std::move(c); });
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->ok());
}

TEST_F(BatchReadersTest, NotFoundNamesTheBatch) {
  EXPECT_EQ(BatchReaders::NotFound("x1"), absl::NotFoundError("Batch 'x1' not found"));
}

}  // namespace
}  // namespace batchd::core
