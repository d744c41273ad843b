// Recovery at start-up: stored batches become scheduler batches again with their events
// replayed; a damaged record, a request that no longer decodes, events that do not decode and a
// batch the scheduler refuses are each counted as failed, logged with why, and do not stop the
// batches after them.
#include "server/journal/journal_recovery.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/journal/journal_events.h"
#include "core/scheduling/scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/journal/batch_record_codec.h"
#include "tests/testing/fake_journal.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/manual_executor.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// `a` then `b` (depending on `a`), both on the test's manual executor unless told otherwise.
v1::SubmitBatchRequest TwoTaskRequest(const std::string& executor = "manual") {
  v1::SubmitBatchRequest request;
  v1::Task* a = request.add_tasks();
  a->set_id("a");
  a->set_executor(executor);
  v1::Task* b = request.add_tasks();
  b->set_id("b");
  b->set_executor(executor);
  b->add_dependencies("a");
  return request;
}

class JournalRecoveryTest : public ::testing::Test {
 protected:
  JournalRecoveryTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    auto executor = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = executor.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(executor)).ok());
    core::SchedulerOptions options;
    options.journal = &journal_;
    scheduler_ = std::make_unique<core::Scheduler>(strand_, clock_, timers_, registry_, options);
    // Recovery's error lines go to `log_`.
    previous_logger_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(
        "recovery_test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_));
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(std::move(logger));
  }
  ~JournalRecoveryTest() override { spdlog::set_default_logger(previous_logger_); }

  core::StoredBatch Stored(uint64_t seq, const std::string& id, std::string content,
                           std::string events = {}) {
    core::StoredBatch stored;
    stored.record.seq = seq;
    stored.record.id = id;
    stored.record.created_at = clock_.WallNow();
    stored.record.content = std::move(content);
    stored.events = std::move(events);
    return stored;
  }

  RecoveryCounts Recover(std::vector<core::StoredBatch> stored) {
    RecoveryCounts counts = RecoverBatches(std::move(stored), *scheduler_);
    timers_.Poll();
    return counts;
  }

  absl::StatusOr<core::BatchSummary> Summary(const std::string& id) {
    std::optional<absl::StatusOr<core::BatchSummary>> summary;
    scheduler_->GetSummary(id,
                           [&](absl::StatusOr<core::BatchSummary> s) { summary = std::move(s); });
    timers_.Poll();
    if (!summary.has_value()) return absl::InternalError("GetSummary did not call back");
    return *std::move(summary);
  }

  // The result of `task` in the state it ended in, for EncodeResult.
  static std::string ResultEvent(uint32_t task, core::TaskState state, std::string error = {}) {
    core::TaskResult result;
    result.task = task;
    result.state = state;
    result.error = std::move(error);
    std::string out;
    core::EncodeResult(out, result);
    return out;
  }

  std::string log() const { return log_.str(); }

  boost::asio::io_context io_;
  testing::FakeClock clock_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeTimerService timers_;
  core::ExecutorRegistry registry_;
  testing::FakeJournal journal_;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> previous_logger_;
};

TEST_F(JournalRecoveryTest, NothingStoredRecoversNothing) {
  const RecoveryCounts counts = Recover({});
  EXPECT_EQ(counts.restored, 0u);
  EXPECT_EQ(counts.failed, 0u);
  EXPECT_THAT(log(), Not(HasSubstr("error")));
}

TEST_F(JournalRecoveryTest, AnUnfinishedBatchResumesWithItsAttemptRunAgain) {
  std::string events;
  core::EncodeStarted(events, 0, 0);
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(TwoTaskRequest()), events));
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.restored, 1u);
  EXPECT_EQ(counts.failed, 0u);
  // `a` was running when the daemon stopped: it runs again, its lost attempt counted.
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a"));
  EXPECT_EQ(manual_->attempts()[0].attempt, 1u);
  absl::StatusOr<core::BatchSummary> summary = Summary("b-1");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->state, core::BatchState::kRunning);
  EXPECT_EQ(summary->total_tasks, 2u);
}

TEST_F(JournalRecoveryTest, AFinishedBatchComesBackFinishedWithoutRunningAnything) {
  std::string events = ResultEvent(0, core::TaskState::kSucceeded) +
                       ResultEvent(1, core::TaskState::kFailed, "boom");
  core::EncodeFinished(events, clock_.WallNow());
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(TwoTaskRequest()), events));
  EXPECT_EQ(Recover(std::move(stored)).restored, 1u);
  EXPECT_THAT(manual_->StartedIds(), IsEmpty());
  absl::StatusOr<core::BatchSummary> summary = Summary("b-1");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->state, core::BatchState::kFailed);
  EXPECT_EQ(summary->successful_count, 1u);
  EXPECT_EQ(summary->failed_count, 1u);
  ASSERT_EQ(summary->results.size(), 2u);
  EXPECT_EQ(summary->results[1]->error, "boom");
}

TEST_F(JournalRecoveryTest, ADamagedRecordIsNeverReplayed) {
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(TwoTaskRequest())));
  stored.back().damage = absl::DataLossError("record 1 fails its checksum");
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.restored, 0u);
  EXPECT_EQ(counts.failed, 1u);
  EXPECT_EQ(Summary("b-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(manual_->StartedIds(), IsEmpty());
  EXPECT_EQ(log(),
            "error journal: batch b-1 not recovered (kept for a later start): DATA_LOSS: record 1 "
            "fails its checksum\n");
}

TEST_F(JournalRecoveryTest, ARequestThatDoesNotParseIsDataLoss) {
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", "\xff\xff\xff not a request"));
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.restored, 0u);
  EXPECT_EQ(counts.failed, 1u);
  EXPECT_EQ(Summary("b-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log(),
            "error journal: batch b-1 not recovered (kept for a later start): DATA_LOSS: journal: "
            "a stored batch request does not parse\n");
}

TEST_F(JournalRecoveryTest, ARequestThatNoLongerValidatesIsNotRecovered) {
  v1::SubmitBatchRequest request = TwoTaskRequest();
  request.mutable_tasks(1)->set_id("a");  // two tasks named `a`
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(request)));
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.failed, 1u);
  EXPECT_THAT(log(), HasSubstr("error journal: batch b-1 not recovered (kept for a later start): "
                               "INVALID_ARGUMENT: Duplicate task id 'a'"));
}

TEST_F(JournalRecoveryTest, EventsThatDoNotDecodeAreNotRecovered) {
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(TwoTaskRequest()), "\x7f\x01"));
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.restored, 0u);
  EXPECT_EQ(counts.failed, 1u);
  EXPECT_EQ(Summary("b-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log(),
            "error journal: batch b-1 not recovered (kept for a later start): DATA_LOSS: Corrupt "
            "journal event (kind 127) at byte 0\n");
}

TEST_F(JournalRecoveryTest, ABatchWhoseExecutorIsGoneIsNotRecovered) {
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(TwoTaskRequest("gone"))));
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.restored, 0u);
  EXPECT_EQ(counts.failed, 1u);
  EXPECT_EQ(Summary("b-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(log(), HasSubstr("error journal: batch b-1 not recovered (kept for a later start): "
                               "INVALID_ARGUMENT: Unknown executor 'gone' of task 'a' (known: "
                               "manual)"));
}

TEST_F(JournalRecoveryTest, AFailedBatchDoesNotStopTheOnesAfterIt) {
  std::vector<core::StoredBatch> stored;
  stored.push_back(Stored(1, "b-1", EncodeBatchContent(TwoTaskRequest())));
  stored.push_back(Stored(2, "b-2", "not a request \xff"));
  stored.push_back(Stored(3, "b-3", EncodeBatchContent(TwoTaskRequest("gone"))));
  stored.push_back(Stored(4, "b-4", EncodeBatchContent(TwoTaskRequest())));
  stored[0].damage = absl::DataLossError("checksum");
  const RecoveryCounts counts = Recover(std::move(stored));
  EXPECT_EQ(counts.restored, 1u);
  EXPECT_EQ(counts.failed, 3u);
  EXPECT_TRUE(Summary("b-4").ok());
  for (const char* id : {"b-1", "b-2", "b-3"}) {
    EXPECT_EQ(Summary(id).status().code(), absl::StatusCode::kNotFound) << id;
    EXPECT_THAT(log(), HasSubstr(std::string("journal: batch ") + id + " not recovered"));
  }
  EXPECT_THAT(log(), Not(HasSubstr("batch b-4 not recovered")));
  // Only b-4 runs: its first task started.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
}

}  // namespace
}  // namespace batchd::server
