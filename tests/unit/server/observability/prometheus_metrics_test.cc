#include "server/observability/prometheus_metrics.h"

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;

TEST(PrometheusMetricsTest, RendersCountersHistogramsAndGauges) {
  PrometheusMetrics metrics;
  metrics.OnBatchSubmitted();
  metrics.OnTaskStarted("echo", std::chrono::milliseconds(2));
  metrics.OnTaskFinished("echo", core::TaskState::kSucceeded, std::chrono::milliseconds(3));
  metrics.OnTaskFinished("echo", core::TaskState::kFailed, std::chrono::seconds(2));
  metrics.OnRetryScheduled("echo");
  metrics.OnBatchFinished(core::BatchState::kFailed);
  metrics.OnRpcFinished("/batchd.v1.BatchService/SubmitBatch", "OK");
  core::SchedulerGauges gauges;
  gauges.running_tasks = 4;
  core::ExecutorDescription worker{"tool", "worker", 2, 8};
  const std::string text = metrics.Render(gauges, {worker});
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_batches_submitted_total counter\n"
                              "batchd_batches_submitted_total 1\n"));
  EXPECT_THAT(text, HasSubstr("batchd_batches_finished_total{state=\"failed\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("batchd_tasks_finished_total{executor=\"echo\",state=\"succeeded\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("batchd_task_retries_total{executor=\"echo\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("batchd_task_duration_seconds_bucket{executor=\"echo\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("batchd_task_duration_seconds_bucket{executor=\"echo\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_task_duration_seconds_count{executor=\"echo\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_running_tasks 4\n"));
  EXPECT_THAT(text, HasSubstr("batchd_connected_workers{executor=\"tool\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_worker_slots{executor=\"tool\"} 8\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "batchd_rpcs_total{method=\"/batchd.v1.BatchService/SubmitBatch\",code=\"OK\"} 1\n"));
}

TEST(PrometheusMetricsTest, RendersTheJournalsStateOnlyWithAJournal) {
  PrometheusMetrics metrics;
  EXPECT_THAT(metrics.Render({}, {}), ::testing::Not(HasSubstr("batchd_journal")));
  core::GroupCommitJournal::Stats degraded;
  degraded.writable = false;
  degraded.commits = 12;
  degraded.failed_writes = 3;
  degraded.refused_batches = 7;
  const std::string text = metrics.Render({}, {}, degraded);
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_journal_writable gauge\nbatchd_journal_writable 0\n"));
  EXPECT_THAT(text, HasSubstr("batchd_journal_commits_total 12\n"));
  EXPECT_THAT(text, HasSubstr("batchd_journal_failed_writes_total 3\n"));
  EXPECT_THAT(text, HasSubstr("batchd_journal_refused_batches_total 7\n"));
  degraded.writable = true;
  EXPECT_THAT(metrics.Render({}, {}, degraded), HasSubstr("batchd_journal_writable 1\n"));
}

}  // namespace
}  // namespace batchd::server
