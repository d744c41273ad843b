// Shared limits bookkeeping (core/limits), in process, on a simulated clock: the scheduler's
// added cost per task of acquire + release (+ the Wake call after it), on one key and spread
// over 1,000 keys, and of the waiting path (enqueue, woken at a refill or by a release).
//   build/release/bench/limits_bench --benchmark_counters_tabular=true
// Issue 18's target: <= 0.3 us of scheduler overhead per task ("time_per_task").
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/limits/limit_table.h"

namespace batchd::bench {
namespace {

using core::LimitDemand;
using core::LimitRelease;
using core::LimitSpec;
using core::LimitTable;
using core::RateMeasure;
using core::SteadyTime;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// "time_per_task": wall time per task, in seconds (printed as e.g. 136n: 136 ns).
void ReportPerTask(benchmark::State& state, double tasks_per_iteration) {
  const double tasks = static_cast<double>(state.iterations()) * tasks_per_iteration;
  state.SetItemsProcessed(static_cast<int64_t>(tasks));
  state.counters["time_per_task"] =
      benchmark::Counter(tasks, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// An API-style limit: 10 in flight and, with rates, requests and tokens per minute, high
// enough that one task per simulated microsecond is never refused; or concurrency alone.
LimitSpec ApiLimit(std::string key, bool with_rates) {
  LimitSpec spec{std::move(key), 10, {}};
  if (with_rates) {
    spec.rates.push_back({120'000'000, minutes(1), std::nullopt, RateMeasure::kRequests});
    spec.rates.push_back({12'000'000'000, minutes(1), std::nullopt});
  }
  return spec;
}

// Acquire, Release (reporting success and the units used) and Wake for one task at a time,
// each task on key i % keys; the clock moves 1 us per task.
void BM_AcquireRelease(benchmark::State& state) {
  const int keys = static_cast<int>(state.range(0));
  const bool with_rates = state.range(1) != 0;
  SteadyTime now{std::chrono::hours(1)};
  LimitTable table;
  std::vector<std::vector<LimitDemand>> demands;
  for (int k = 0; k < keys; ++k) {
    const std::string key = absl::StrCat("tenant:", k);
    (void)table.Set(ApiLimit(key, with_rates), now);
    demands.push_back({{key, 100}});
  }
  uint32_t task = 0;
  size_t k = 0;
  core::LimitWakeups wakeups;
  for (auto _ : state) {
    now += microseconds(1);
    const std::vector<LimitDemand>& demand = demands[k];
    absl::StatusOr<core::LimitAcquire> got = table.Acquire({1, task++}, 0, demand, now);
    if (!got.ok() || !got->granted) {
      state.SkipWithError("a task was refused or made to wait");
      break;
    }
    LimitRelease how;
    how.started = now;
    how.verdict = LimitRelease::Verdict::kSucceeded;
    how.units_used = 90;
    table.Release(demand, how, now);
    table.Wake(now, wakeups);
    benchmark::DoNotOptimize(wakeups);
    if (++k == demands.size()) k = 0;
  }
  ReportPerTask(state, 1);
}
BENCHMARK(BM_AcquireRelease)
    ->ArgNames({"keys", "rates"})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({1000, 0})
    ->Args({1000, 1});

// The waiting path on rates: 10,000 tasks on 1,000 units/s with burst 100 (the issue's
// workload): 100 start at once, the rest wait and are woken one per millisecond of simulated
// time; each is released as soon as it starts.
void BM_RateWaiters(benchmark::State& state) {
  constexpr uint32_t kTasks = 10'000;
  const std::vector<LimitDemand> demand{{"api", 1}};
  SteadyTime now{std::chrono::hours(1)};
  uint64_t batch = 0;
  for (auto _ : state) {
    state.PauseTiming();
    LimitTable table;
    (void)table.Set({"api", std::nullopt, {{1000, seconds(1), 100}}}, now);
    ++batch;
    state.ResumeTiming();
    for (uint32_t t = 0; t < kTasks; ++t) {
      if (table.Acquire({batch, t}, 0, demand, now)->granted) table.Release(demand, {}, now);
    }
    core::LimitWakeups w;  // reused, as the scheduler would
    table.Wake(now, w);
    while (w.next_wake.has_value()) {
      now = *w.next_wake;
      table.Wake(now, w);
      for (size_t i = 0; i < w.start.size(); ++i) table.Release(demand, {}, now);
    }
  }
  ReportPerTask(state, kTasks);
}
BENCHMARK(BM_RateWaiters)->Unit(benchmark::kMillisecond);

// The waiting path on concurrency: 1,000 keys x 100 tasks, 10 in flight per key, tasks of 10
// batches; every release starts the next waiter of its key.
void BM_ConcurrencyWaiters(benchmark::State& state) {
  constexpr int kKeys = 1000;
  constexpr uint32_t kPerKey = 100;
  SteadyTime now{std::chrono::hours(1)};
  std::vector<std::vector<LimitDemand>> demands;
  for (int k = 0; k < kKeys; ++k) demands.push_back({{absl::StrCat("tenant:", k), 1}});
  uint64_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    LimitTable table;
    for (int k = 0; k < kKeys; ++k) (void)table.Set(ApiLimit(demands[k][0].key, false), now);
    ++round;
    state.ResumeTiming();
    std::vector<std::pair<core::LimitTaskRef, int>> running;
    for (uint32_t t = 0; t < kPerKey; ++t) {
      for (int k = 0; k < kKeys; ++k) {
        const core::LimitTaskRef ref{round * 10 + t % 10, t * kKeys + static_cast<uint32_t>(k)};
        if (table.Acquire(ref, 0, demands[k], now)->granted) running.emplace_back(ref, k);
      }
    }
    core::LimitWakeups w;
    while (!running.empty()) {
      const int k = running.back().second;
      running.pop_back();
      table.Release(demands[k], {}, now);
      table.Wake(now, w);
      for (core::LimitTaskRef ref : w.start) {
        running.emplace_back(ref, static_cast<int>(ref.task % kKeys));
      }
    }
  }
  ReportPerTask(state, kKeys * kPerKey);
}
BENCHMARK(BM_ConcurrencyWaiters)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace batchd::bench

BENCHMARK_MAIN();
