// The daemon's Prometheus metrics: counters and histograms fed by the scheduler (as its
// SchedulerObserver) and by the RPC interceptor, rendered with gauges sampled at scrape time
// in the text exposition format (0.0.4). `batchd_` prefix, base units, no per-batch labels;
// per shared-limit key only for the first kMaxLimitSeries keys (keys are user strings).
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/executors/executor_registry.h"
#include "core/executors/http/connection_pool.h"
#include "core/journal/group_commit_journal.h"
#include "core/scheduling/scheduler_observer.h"

namespace batchd::server {

// Cumulative histogram over fixed upper bounds (seconds).
class SecondsHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,   0.5,   1,     2.5,  5,     10,   60};
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines of `name` with `labels` (e.g. executor="echo").
  void Render(std::string_view name, std::string_view labels, std::string& out) const;

 private:
  std::array<uint64_t, kBounds.size() + 1> buckets_{};  // last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class PrometheusMetrics final : public core::SchedulerObserver {
 public:
  // Keys (by key) whose shared-limit gauges are rendered; the rest are left out, so a daemon
  // with 100,000 keys does not render millions of series.
  static constexpr size_t kMaxLimitSeries = 1000;

  void OnBatchSubmitted() override;
  void OnBatchFinished(core::BatchState state) override;
  void OnTaskStarted(std::string_view executor, core::Duration queue_wait) override;
  void OnTaskFinished(std::string_view executor, core::TaskState state,
                      core::Duration run_time) override;
  void OnRetryScheduled(std::string_view executor) override;
  void OnTimeout(std::string_view executor) override;

  // One finished RPC: `method` as "/batchd.v1.BatchService/SubmitBatch", `code` as "OK".
  void OnRpcFinished(std::string_view method, std::string_view code);

  // The whole exposition text, with the gauges sampled by the caller (`journal`: none without
  // a journal).
  std::string Render(const core::SchedulerGauges& scheduler,
                     const std::vector<core::ExecutorDescription>& executors,
                     const std::optional<core::GroupCommitJournal::Stats>& journal = {},
                     const std::optional<core::ConnectionPoolStats>& http = {}) const;

 private:
  struct ExecutorCounters {
    std::array<uint64_t, 8> finished_by_state{};  // indexed by core::TaskState
    uint64_t retries = 0;
    uint64_t timeouts = 0;
    SecondsHistogram duration;
    SecondsHistogram queue_wait;
  };
  ExecutorCounters& For(std::string_view executor) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t batches_submitted_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<uint64_t, 5> batches_finished_ ABSL_GUARDED_BY(mu_){};  // by core::BatchState
  std::map<std::string, ExecutorCounters, std::less<>> executors_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> rpcs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::server
