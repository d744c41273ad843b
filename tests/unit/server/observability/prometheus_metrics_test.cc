#include "server/observability/prometheus_metrics.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
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

core::LimitState LimitState(std::string key) {
  core::LimitState state;
  state.spec.key = std::move(key);
  state.spec.max_in_flight = 4;
  return state;
}

TEST(PrometheusMetricsTest, RendersEachLimitKeysGauges) {
  core::SchedulerGauges gauges;
  gauges.throttled_tasks = 7;
  core::LimitState openai = LimitState("open\"ai");
  openai.in_flight = 3;
  openai.waiting = 5;
  openai.throttled = 2;
  openai.spec.rates.push_back(
      {.units = 90000, .period = std::chrono::minutes(1), .burst = std::nullopt});
  openai.spec.rates.push_back({.units = 10, .period = std::chrono::seconds(1), .burst = 20});
  openai.available = {1500.5, 20};
  openai.effective_rate = {45000, 10};
  gauges.limits = {LimitState("db"), openai};

  const std::string text = PrometheusMetrics().Render(gauges, {});
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_throttled_tasks gauge\nbatchd_throttled_tasks 7\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limits_configured 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limit_in_flight{key=\"db\"} 0\n"
                              "batchd_limit_in_flight{key=\"open\\\"ai\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limit_waiting_tasks{key=\"open\\\"ai\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_limit_throttled_attempts_total counter\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limit_throttled_attempts_total{key=\"open\\\"ai\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limit_available_units{key=\"open\\\"ai\",rate=\"0\"} 1500.5\n"
                              "batchd_limit_available_units{key=\"open\\\"ai\",rate=\"1\"} 20\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limit_effective_rate{key=\"open\\\"ai\",rate=\"0\"} 750\n"
                              "batchd_limit_effective_rate{key=\"open\\\"ai\",rate=\"1\"} 10\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("batchd_limit_available_units{key=\"db\"")));
}

TEST(PrometheusMetricsTest, LimitSeriesAreCappedToTheFirstKeys) {
  core::SchedulerGauges gauges;
  for (size_t i = 0; i <= PrometheusMetrics::kMaxLimitSeries; ++i) {
    gauges.limits.push_back(LimitState(absl::StrFormat("k%05d", i)));
  }
  const std::string text = PrometheusMetrics().Render(gauges, {});
  EXPECT_THAT(text, HasSubstr("batchd_limits_configured 1001\n"));
  EXPECT_THAT(text, HasSubstr("batchd_limit_in_flight{key=\"k00999\"} 0\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("k01000")));
}

TEST(PrometheusMetricsTest, RendersTheResultCachesCountersAndSize) {
  core::SchedulerGauges gauges;
  gauges.cache.hits = 90;
  gauges.cache.misses = 10;
  gauges.cache.stored = 9;
  gauges.cache.too_large = 1;
  gauges.cache.evictions = 2;
  gauges.cache.expirations = 3;
  gauges.cache.invalidations = 4;
  gauges.cache.entries = 5;
  gauges.cache.bytes = 1234;
  gauges.cache_joins = 6;
  gauges.cache_flights = 7;
  gauges.cache_max_bytes = 1 << 20;
  const std::string text = PrometheusMetrics().Render(gauges, {});
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_cache_lookups_total counter\n"
                              "batchd_cache_lookups_total{result=\"hit\"} 90\n"
                              "batchd_cache_lookups_total{result=\"miss\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_single_flight_joins_total 6\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_stored_total 9\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_too_large_total 1\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_dropped_total{reason=\"eviction\"} 2\n"
                              "batchd_cache_dropped_total{reason=\"expiration\"} 3\n"
                              "batchd_cache_dropped_total{reason=\"invalidation\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_cache_entries gauge\nbatchd_cache_entries 5\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_bytes 1234\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_max_bytes 1048576\n"));
  EXPECT_THAT(text, HasSubstr("batchd_cache_flights 7\n"));
}

TEST(PrometheusMetricsTest, RendersTheJournalsStateOnlyWithAJournal) {
  PrometheusMetrics metrics;
  EXPECT_THAT(metrics.Render({}, {}), ::testing::Not(HasSubstr("batchd_journal")));
  core::GroupCommitJournal::Stats degraded;
  degraded.writable = false;
  degraded.commits = 12;
  degraded.failed_writes = 3;
  degraded.refused_batches = 7;
  degraded.dropped_cache_puts = 8;
  const std::string text = metrics.Render({}, {}, degraded);
  EXPECT_THAT(text, HasSubstr("batchd_journal_dropped_cache_entries_total 8\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_journal_writable gauge\nbatchd_journal_writable 0\n"));
  EXPECT_THAT(text, HasSubstr("batchd_journal_commits_total 12\n"));
  EXPECT_THAT(text, HasSubstr("batchd_journal_failed_writes_total 3\n"));
  EXPECT_THAT(text, HasSubstr("batchd_journal_refused_batches_total 7\n"));
  degraded.writable = true;
  EXPECT_THAT(metrics.Render({}, {}, degraded), HasSubstr("batchd_journal_writable 1\n"));
}

TEST(PrometheusMetricsTest, RendersTheHttpConnectionPool) {
  PrometheusMetrics metrics;
  EXPECT_THAT(metrics.Render({}, {}), ::testing::Not(HasSubstr("batchd_http_")));
  const core::ConnectionPoolStats pool{
      .opened = 9, .reused = 991, .open = 8, .idle = 3, .waiting = 2};
  const std::string text = metrics.Render({}, {}, std::nullopt, pool);
  EXPECT_THAT(text, HasSubstr("# TYPE batchd_http_connections_opened_total counter\n"
                              "batchd_http_connections_opened_total 9\n"));
  EXPECT_THAT(text, HasSubstr("batchd_http_connection_reuses_total 991\n"));
  EXPECT_THAT(text, HasSubstr("batchd_http_connections{state=\"in_use\"} 5\n"
                              "batchd_http_connections{state=\"idle\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("batchd_http_requests_waiting_for_connection 2\n"));
}

}  // namespace
}  // namespace batchd::server
