// The pieces behind metrics, JSON logs and stream limits, without a daemon.
#include <spdlog/details/log_msg.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/observability/log_setup.h"
#include "server/observability/prometheus_metrics.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;

TEST(AppendJsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonString("say \"hi\"\\\n\t\x01 ok", out);
  EXPECT_EQ(out, R"("say \"hi\"\\\n\t\u0001 ok")");
}

TEST(AppendJsonStringTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  std::string out;
  AppendJsonString("caf\xC3\xA9 \xFF!", out);
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xEF\xBF\xBD!\"");
}

TEST(JsonLogFormatterTest, FormatsOneObjectPerLine) {
  JsonLogFormatter formatter;
  spdlog::details::log_msg msg("batchd", spdlog::level::warn, "a \"b\"\nc");
  spdlog::memory_buf_t buffer;
  formatter.format(msg, buffer);
  const std::string line(buffer.data(), buffer.size());
  EXPECT_THAT(line, HasSubstr(R"("level":"warning","logger":"batchd")"));
  EXPECT_THAT(line, HasSubstr(R"("msg":"a \"b\"\nc"})"));
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(ParseLogFormatTest, NamesTheFlagOnBadValues) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("xml").status().message(),
            "invalid --log-format 'xml': expected text or json");
}

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
  EXPECT_THAT(text, HasSubstr("batchd_task_duration_seconds_bucket{executor=\"echo\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("batchd_task_duration_seconds_bucket{executor=\"echo\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_task_duration_seconds_count{executor=\"echo\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_running_tasks 4\n"));
  EXPECT_THAT(text, HasSubstr("batchd_connected_workers{executor=\"tool\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_worker_slots{executor=\"tool\"} 8\n"));
  EXPECT_THAT(text, HasSubstr(
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
