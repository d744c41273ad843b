#include "client/format/progress_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>

#include "absl/time/time.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using ::testing::StartsWith;

constexpr int64_t kMay1Noon2024 = 1714564800;

v1::BatchProgress Progress(v1::BatchState state, uint32_t total, uint32_t completed) {
  v1::BatchProgress progress;
  progress.set_state(state);
  progress.set_total_tasks(total);
  progress.set_completed_tasks(completed);
  return progress;
}

TEST(RenderProgressBarTest, UsesDaemonEstimateForEta) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 100, 70);
  progress.set_estimated_remaining_ms(3200);
  EXPECT_EQ(RenderProgressBar(progress, 10, absl::Milliseconds(500)),
            "[#######...]  70/100  70.0%  140 tasks/s  ETA 3.2s");
}

TEST(RenderProgressBarTest, ExtrapolatesEtaFromRateWithoutEstimate) {
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_RUNNING, 100, 25), 4, absl::Seconds(5)),
            "[#...]  25/100  25.0%  5.0 tasks/s  ETA 15.0s");
}

TEST(RenderProgressBarTest, UnknownEtaBeforeAnyTaskCompletes) {
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_PENDING, 10, 0), 5, absl::ZeroDuration()),
            "[.....]  0/10  0.0%  0.0 tasks/s  ETA --");
}

TEST(RenderProgressBarTest, FinishedBatchShowsStateAndFailures) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_FAILED, 10, 10);
  progress.set_failed_tasks(2);
  EXPECT_EQ(RenderProgressBar(progress, 5, absl::Seconds(2)),
            "[#####]  10/10  100.0%  5.0 tasks/s  FAILED  2 failed");
}

TEST(RenderProgressBarTest, EmptyBatchAndOvercountAreSafe) {
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_PENDING, 0, 0), 3, absl::Seconds(1)),
            "[...]  0/0  -  0.0 tasks/s  ETA --");
  EXPECT_THAT(RenderProgressBar(Progress(v1::BATCH_STATE_RUNNING, 4, 9), 4, absl::Seconds(1)),
              StartsWith("[####]  4/4  100.0%"));
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_RUNNING, 4, 0), 0, absl::Seconds(1)),
            "[.]  0/4  0.0%  0.0 tasks/s  ETA --");
}

TEST(FormatProgressLineTest, ListsCounts) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 100, 70);
  progress.set_successful_tasks(68);
  progress.set_failed_tasks(2);
  progress.set_running_tasks(5);
  progress.set_pending_tasks(25);
  EXPECT_EQ(FormatProgressLine(progress),
            "RUNNING 70/100 (70.0%) succeeded 68 failed 2 running 5 pending 25");
}

TEST(FormatProgressDetailsTest, AlignsKeysAndSortsLabels) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 100, 70);
  progress.set_batch_id("b1");
  progress.set_successful_tasks(68);
  progress.set_failed_tasks(2);
  progress.set_running_tasks(5);
  progress.set_pending_tasks(25);
  progress.set_progress_percentage(70);
  progress.set_estimated_remaining_ms(3200);
  progress.mutable_created_at()->set_seconds(kMay1Noon2024);
  (*progress.mutable_labels())["team"] = "infra";
  (*progress.mutable_labels())["env"] = "prod";
  EXPECT_EQ(FormatProgressDetails(progress),
            "batch:      b1\n"
            "state:      RUNNING\n"
            "total:      100\n"
            "completed:  70\n"
            "successful: 68\n"
            "failed:     2\n"
            "running:    5\n"
            "pending:    25\n"
            "progress:   70.0%\n"
            "eta:        3.2s\n"
            "created:    2024-05-01T12:00:00Z\n"
            "label env:  prod\n"
            "label team: infra\n");
}

TEST(FormatProgressDetailsTest, ThrottledTasksAndWhatTheyWaitFor) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 4, 0);
  progress.set_batch_id("b2");
  progress.set_running_tasks(1);
  progress.set_pending_tasks(3);
  progress.set_throttled_tasks(3);
  v1::LimitWait* wait = progress.add_limit_waits();
  wait->set_key("db");
  wait->set_tasks(3);
  wait->set_reason("waiting for limit 'db' (concurrency)");
  EXPECT_EQ(FormatProgressDetails(progress),
            "batch:      b2\n"
            "state:      RUNNING\n"
            "total:      4\n"
            "completed:  0\n"
            "successful: 0\n"
            "failed:     0\n"
            "running:    1\n"
            "pending:    3\n"
            "throttled:  3\n"
            "limit db:   3 waiting for limit 'db' (concurrency)\n"
            "progress:   0.0%\n"
            "eta:        -\n"
            "created:    -\n");
}

}  // namespace
}  // namespace batchd::client
