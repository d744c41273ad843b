#include "server/observability/prometheus_metrics.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace batchd::server {
namespace {

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

double Seconds(core::Duration d) { return std::chrono::duration<double>(d).count(); }

// Label values escape backslash, quote and newline.
std::string LabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string Lower(const char* name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  absl::StrAppend(&out, "# HELP ", A(name), " ", A(help), "\n# TYPE ", A(name), " ", A(type), "\n");
}

// Per configured key: in flight, waiting, throttled attempts, and per rate (labelled by its
// index) the units available and the rate in force, in units per second.
// The result cache: lookups by result, single-flight joins, what was stored and dropped, and
// its size.
void RenderCache(const core::SchedulerGauges& g, std::string& out) {
  const core::ResultCacheStats& c = g.cache;
  Header(out, "batchd_cache_lookups_total", "counter",
         "Result cache lookups of ready tasks, by result (hit: served from the cache).");
  absl::StrAppend(&out, "batchd_cache_lookups_total{result=\"hit\"} ", c.hits, "\n",
                  "batchd_cache_lookups_total{result=\"miss\"} ", c.misses, "\n");
  Header(out, "batchd_cache_single_flight_joins_total", "counter",
         "Tasks that waited for a running attempt with their cache key instead of running.");
  absl::StrAppend(&out, "batchd_cache_single_flight_joins_total ", g.cache_joins, "\n");
  Header(out, "batchd_cache_stored_total", "counter", "Successful results stored in the cache.");
  absl::StrAppend(&out, "batchd_cache_stored_total ", c.stored, "\n");
  Header(out, "batchd_cache_too_large_total", "counter",
         "Successful results over --cache-max-entry-bytes, not stored.");
  absl::StrAppend(&out, "batchd_cache_too_large_total ", c.too_large, "\n");
  Header(out, "batchd_cache_dropped_total", "counter",
         "Cache entries dropped, by reason (eviction: for room, least recently used first).");
  absl::StrAppend(&out, "batchd_cache_dropped_total{reason=\"eviction\"} ", c.evictions, "\n",
                  "batchd_cache_dropped_total{reason=\"expiration\"} ", c.expirations, "\n",
                  "batchd_cache_dropped_total{reason=\"invalidation\"} ", c.invalidations, "\n");
  Header(out, "batchd_cache_entries", "gauge", "Entries in the result cache.");
  absl::StrAppend(&out, "batchd_cache_entries ", c.entries, "\n");
  Header(out, "batchd_cache_bytes", "gauge", "Bytes the result cache's entries count.");
  absl::StrAppend(&out, "batchd_cache_bytes ", c.bytes, "\n");
  Header(out, "batchd_cache_max_bytes", "gauge", "--cache-max-bytes.");
  absl::StrAppend(&out, "batchd_cache_max_bytes ", g.cache_max_bytes, "\n");
  Header(out, "batchd_cache_flights", "gauge", "Cache keys with an attempt running now.");
  absl::StrAppend(&out, "batchd_cache_flights ", g.cache_flights, "\n");
}

void RenderLimits(const std::vector<core::LimitState>& limits, std::string& out) {
  const size_t n = std::min(limits.size(), PrometheusMetrics::kMaxLimitSeries);
  auto key_label = [&](size_t i) {
    return absl::StrCat("key=\"", LabelValue(limits[i].spec.key), "\"");
  };
  Header(out, "batchd_limit_in_flight", "gauge", "Tasks holding a shared limit, by key.");
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, "batchd_limit_in_flight{", key_label(i), "} ", limits[i].in_flight, "\n");
  }
  Header(out, "batchd_limit_waiting_tasks", "gauge", "Tasks waiting in a key's queue, by key.");
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, "batchd_limit_waiting_tasks{", key_label(i), "} ", limits[i].waiting,
                    "\n");
  }
  Header(out, "batchd_limit_throttled_attempts_total", "counter",
         "Attempts reported throttled (HTTP 429/503, a worker's throttled outcome), by key.");
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, "batchd_limit_throttled_attempts_total{", key_label(i), "} ",
                    limits[i].throttled, "\n");
  }
  Header(out, "batchd_limit_available_units", "gauge",
         "Units a key's rate has available now, by key and rate (its index).");
  for (size_t i = 0; i < n; ++i) {
    const core::LimitState& l = limits[i];
    for (size_t r = 0; r < l.available.size(); ++r) {
      absl::StrAppend(&out, "batchd_limit_available_units{", key_label(i), ",rate=\"", r, "\"} ",
                      absl::StrFormat("%.9g", l.available[r]), "\n");
    }
  }
  Header(out, "batchd_limit_effective_rate", "gauge",
         "A key's rate in force after adaptive back-off, in units per second, by key and rate.");
  for (size_t i = 0; i < n; ++i) {
    const core::LimitState& l = limits[i];
    for (size_t r = 0; r < l.effective_rate.size() && r < l.spec.rates.size(); ++r) {
      const double per_second = l.effective_rate[r] / Seconds(l.spec.rates[r].period);
      absl::StrAppend(&out, "batchd_limit_effective_rate{", key_label(i), ",rate=\"", r, "\"} ",
                      absl::StrFormat("%.9g", per_second), "\n");
    }
  }
}

}  // namespace

void SecondsHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++buckets_[i];
  sum_ += seconds;
  ++count_;
}

void SecondsHistogram::Render(std::string_view name_view, std::string_view labels_view,
                              std::string& out) const {
  const absl::string_view name = A(name_view);
  const absl::string_view labels = A(labels_view);
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i];
    absl::StrAppend(&out, name, "_bucket{", labels, sep, "le=\"", kBounds[i], "\"} ", cumulative,
                    "\n");
  }
  cumulative += buckets_[kBounds.size()];
  absl::StrAppend(&out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", cumulative, "\n");
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(&out, name, "_sum", braces, " ", absl::StrFormat("%.9g", sum_), "\n");
  absl::StrAppend(&out, name, "_count", braces, " ", count_, "\n");
}

PrometheusMetrics::ExecutorCounters& PrometheusMetrics::For(std::string_view executor) {
  auto it = executors_.find(executor);
  if (it == executors_.end())
    it = executors_.emplace(std::string(executor), ExecutorCounters{}).first;
  return it->second;
}

void PrometheusMetrics::OnBatchSubmitted() {
  absl::MutexLock lock(&mu_);
  ++batches_submitted_;
}

void PrometheusMetrics::OnBatchFinished(core::BatchState state) {
  absl::MutexLock lock(&mu_);
  ++batches_finished_[static_cast<size_t>(state)];
}

void PrometheusMetrics::OnTaskStarted(std::string_view executor, core::Duration queue_wait) {
  absl::MutexLock lock(&mu_);
  For(executor).queue_wait.Observe(Seconds(queue_wait));
}

void PrometheusMetrics::OnTaskFinished(std::string_view executor, core::TaskState state,
                                       core::Duration run_time) {
  absl::MutexLock lock(&mu_);
  ExecutorCounters& c = For(executor);
  ++c.finished_by_state[static_cast<size_t>(state)];
  if (run_time > core::Duration::zero()) c.duration.Observe(Seconds(run_time));
}

void PrometheusMetrics::OnRetryScheduled(std::string_view executor) {
  absl::MutexLock lock(&mu_);
  ++For(executor).retries;
}

void PrometheusMetrics::OnTimeout(std::string_view executor) {
  absl::MutexLock lock(&mu_);
  ++For(executor).timeouts;
}

void PrometheusMetrics::OnRpcFinished(std::string_view method, std::string_view code) {
  absl::MutexLock lock(&mu_);
  ++rpcs_[{std::string(method), std::string(code)}];
}

std::string PrometheusMetrics::Render(const core::SchedulerGauges& scheduler,
                                      const std::vector<core::ExecutorDescription>& executors,
                                      const std::optional<core::GroupCommitJournal::Stats>& journal,
                                      const std::optional<core::ConnectionPoolStats>& http) const {
  std::string out;
  absl::MutexLock lock(&mu_);
  Header(out, "batchd_batches_submitted_total", "counter", "Batches accepted.");
  absl::StrAppend(&out, "batchd_batches_submitted_total ", batches_submitted_, "\n");
  Header(out, "batchd_batches_finished_total", "counter", "Batches finished, by final state.");
  for (core::BatchState s :
       {core::BatchState::kSucceeded, core::BatchState::kFailed, core::BatchState::kCancelled}) {
    absl::StrAppend(&out, "batchd_batches_finished_total{state=\"", Lower(core::BatchStateName(s)),
                    "\"} ", batches_finished_[static_cast<size_t>(s)], "\n");
  }
  Header(out, "batchd_tasks_finished_total", "counter", "Tasks finished, by executor and state.");
  for (const auto& [name, c] : executors_) {
    for (core::TaskState s :
         {core::TaskState::kSucceeded, core::TaskState::kFailed, core::TaskState::kTimedOut,
          core::TaskState::kSkipped, core::TaskState::kCancelled}) {
      absl::StrAppend(&out, "batchd_tasks_finished_total{executor=\"", LabelValue(name),
                      "\",state=\"", Lower(core::TaskStateName(s)), "\"} ",
                      c.finished_by_state[static_cast<size_t>(s)], "\n");
    }
  }
  Header(out, "batchd_task_retries_total", "counter", "Retries scheduled, by executor.");
  for (const auto& [name, c] : executors_) {
    absl::StrAppend(&out, "batchd_task_retries_total{executor=\"", LabelValue(name), "\"} ",
                    c.retries, "\n");
  }
  Header(out, "batchd_task_timeouts_total", "counter", "Attempts that timed out, by executor.");
  for (const auto& [name, c] : executors_) {
    absl::StrAppend(&out, "batchd_task_timeouts_total{executor=\"", LabelValue(name), "\"} ",
                    c.timeouts, "\n");
  }
  Header(out, "batchd_task_duration_seconds", "histogram",
         "Run time of each task's final attempt, by executor.");
  for (const auto& [name, c] : executors_) {
    c.duration.Render("batchd_task_duration_seconds",
                      absl::StrCat("executor=\"", LabelValue(name), "\""), out);
  }
  Header(out, "batchd_task_queue_wait_seconds", "histogram",
         "Time from a task being ready to its attempt starting, by executor.");
  for (const auto& [name, c] : executors_) {
    c.queue_wait.Render("batchd_task_queue_wait_seconds",
                        absl::StrCat("executor=\"", LabelValue(name), "\""), out);
  }
  Header(out, "batchd_active_batches", "gauge", "Batches not finished yet.");
  absl::StrAppend(&out, "batchd_active_batches ", scheduler.active_batches, "\n");
  Header(out, "batchd_running_tasks", "gauge", "Task attempts running now.");
  absl::StrAppend(&out, "batchd_running_tasks ", scheduler.running_tasks, "\n");
  Header(out, "batchd_ready_tasks", "gauge",
         "Tasks whose dependencies are done, waiting for a concurrency slot (ready-queue depth).");
  absl::StrAppend(&out, "batchd_ready_tasks ", scheduler.ready_tasks, "\n");
  Header(out, "batchd_tasks_waiting_for_worker", "gauge",
         "Ready tasks waiting for a callback worker's free slot.");
  absl::StrAppend(&out, "batchd_tasks_waiting_for_worker ", scheduler.waiting_for_worker_tasks,
                  "\n");
  Header(out, "batchd_throttled_tasks", "gauge",
         "Ready tasks waiting for their shared limits (all keys, all batches).");
  absl::StrAppend(&out, "batchd_throttled_tasks ", scheduler.throttled_tasks, "\n");
  Header(out, "batchd_limits_configured", "gauge", "Shared limit keys configured.");
  absl::StrAppend(&out, "batchd_limits_configured ", scheduler.limits.size(), "\n");
  RenderLimits(scheduler.limits, out);
  RenderCache(scheduler, out);
  Header(out, "batchd_connected_workers", "gauge", "Callback workers connected, by executor.");
  for (const core::ExecutorDescription& e : executors) {
    if (e.kind != "worker") continue;
    absl::StrAppend(&out, "batchd_connected_workers{executor=\"", LabelValue(e.name), "\"} ",
                    e.workers, "\n");
  }
  Header(out, "batchd_worker_slots", "gauge", "Total slots of connected workers, by executor.");
  for (const core::ExecutorDescription& e : executors) {
    if (e.kind != "worker") continue;
    absl::StrAppend(&out, "batchd_worker_slots{executor=\"", LabelValue(e.name), "\"} ", e.capacity,
                    "\n");
  }
  Header(out, "batchd_rpcs_total", "counter", "RPCs finished, by method and status code.");
  for (const auto& [key, n] : rpcs_) {
    absl::StrAppend(&out, "batchd_rpcs_total{method=\"", LabelValue(key.first), "\",code=\"",
                    key.second, "\"} ", n, "\n");
  }
  if (journal.has_value()) {
    Header(out, "batchd_journal_writable", "gauge",
           "1 while the journal stores records; 0 while writes fail (new batches are refused).");
    absl::StrAppend(&out, "batchd_journal_writable ", journal->writable ? 1 : 0, "\n");
    Header(out, "batchd_journal_commits_total", "counter", "Journal transactions committed.");
    absl::StrAppend(&out, "batchd_journal_commits_total ", journal->commits, "\n");
    Header(out, "batchd_journal_failed_writes_total", "counter",
           "Journal writes and probes that failed (each is retried with backoff).");
    absl::StrAppend(&out, "batchd_journal_failed_writes_total ", journal->failed_writes, "\n");
    Header(out, "batchd_journal_refused_batches_total", "counter",
           "Batches refused because their record could not be stored (none of them ran).");
    absl::StrAppend(&out, "batchd_journal_refused_batches_total ", journal->refused_batches, "\n");
    Header(out, "batchd_journal_dropped_cache_entries_total", "counter",
           "Cache entries the journal could not store (a failed write): after a restart, misses.");
    absl::StrAppend(&out, "batchd_journal_dropped_cache_entries_total ",
                    journal->dropped_cache_puts, "\n");
  }
  if (http.has_value()) {
    Header(out, "batchd_http_connections_opened_total", "counter",
           "Connections the http executor opened (each one lookup, connect and TLS handshake).");
    absl::StrAppend(&out, "batchd_http_connections_opened_total ", http->opened, "\n");
    Header(out, "batchd_http_connection_reuses_total", "counter",
           "Requests the http executor sent on a kept-alive connection.");
    absl::StrAppend(&out, "batchd_http_connection_reuses_total ", http->reused, "\n");
    Header(out, "batchd_http_connections", "gauge",
           "Connections of the http executor's pool, by state (in_use includes opening).");
    absl::StrAppend(&out, "batchd_http_connections{state=\"in_use\"} ", http->open - http->idle,
                    "\n");
    absl::StrAppend(&out, "batchd_http_connections{state=\"idle\"} ", http->idle, "\n");
    Header(out, "batchd_http_requests_waiting_for_connection", "gauge",
           "Requests waiting for the pool's bounds (--http-max-connections[-per-host]).");
    absl::StrAppend(&out, "batchd_http_requests_waiting_for_connection ", http->waiting, "\n");
  }
  return out;
}

}  // namespace batchd::server
