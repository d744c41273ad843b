// In-process scheduler benchmarks (no gRPC): CPU per task, memory per task and per edge,
// sleep-bound efficiency and DAG makespan against the critical path.
//   build/release/bench/scheduler_bench --benchmark_counters_tabular=true [--tasks=N]
// --tasks=N sizes the CPU and memory benchmarks (default: CPU at 100,000 and 1,000,000 tasks,
// memory at 1,000,000); bench/run_all.py --quick passes a small N.
#include <malloc.h>
#include <sys/resource.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/executors/builtin_executors.h"
#include "core/scheduling/scheduler.h"
#include "core/time/asio_timer_service.h"
#include "spdlog/spdlog.h"

namespace batchd::bench {
namespace {

using core::BatchSpec;
using core::TaskSpec;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;  // small chunks in use + mmap'd large blocks
}

// An executor that accepts attempts and never completes them: holds a batch in place.
class ParkingExecutor final : public core::Executor {
 public:
  void Start(const core::ExecutionRequest&, core::CompletionSink&) override {}
  void Cancel(const core::AttemptToken&) override {}
};

// A scheduler on its own io_context thread, as in the daemon.
class InProcessScheduler {
 public:
  explicit InProcessScheduler(uint32_t max_running = 1024)
      : strand_(boost::asio::make_strand(io_)),
        work_(boost::asio::make_work_guard(io_)),
        timers_(strand_, clock_) {
    (void)core::RegisterBuiltinExecutors(registry_, clock_, timers_);
    (void)registry_.Register({"park", "builtin", 0, 0}, std::make_unique<ParkingExecutor>());
    core::SchedulerOptions options;
    options.max_running = max_running;
    // Keep only the last finished batch so repeated runs reuse memory instead of measuring
    // first-touch page faults of an ever-growing heap.
    options.max_finished_batches = 1;
    scheduler_ = std::make_unique<core::Scheduler>(strand_, clock_, timers_, registry_, options);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~InProcessScheduler() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  core::BatchSummary Run(BatchSpec spec) {
    absl::StatusOr<core::SubmitResult> r = scheduler_->Submit(std::move(spec));
    if (!r.ok()) {
      spdlog::error("submit failed: {}", r.status().ToString());
      std::abort();
    }
    std::promise<core::BatchSummary> done;
    scheduler_->WaitForCompletion(
        r->batch_id, [&](absl::StatusOr<core::BatchSummary> s) { done.set_value(*std::move(s)); });
    return done.get_future().get();
  }
  // Before any batch names it (Scheduler::RestoreLimit, as at start-up).
  void SetLimit(core::LimitSpec spec) { (void)scheduler_->RestoreLimit(std::move(spec)); }
  std::string SubmitOnly(BatchSpec spec) {
    absl::StatusOr<core::SubmitResult> r = scheduler_->Submit(std::move(spec));
    std::promise<void> added;
    scheduler_->GetProgress(r->batch_id, [&](auto) { added.set_value(); });
    added.get_future().get();
    return r->batch_id;
  }

 private:
  boost::asio::io_context io_;
  core::AsioTimerService::Strand strand_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  core::SystemClock clock_;
  core::AsioTimerService timers_;
  core::ExecutorRegistry registry_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::thread thread_;
};

TaskSpec Task(std::string id, const char* executor, boost::json::value input) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = executor;
  t.input = std::move(input);
  return t;
}

BatchSpec IndependentTasks(int n, const char* executor, const boost::json::value& input,
                           uint32_t max_concurrent) {
  BatchSpec spec;
  spec.tasks.reserve(n);
  for (int i = 0; i < n; ++i) spec.tasks.push_back(Task("t" + std::to_string(i), executor, input));
  spec.options.max_concurrent = max_concurrent;
  return spec;
}

// 100,000 independent echo tasks: submit (validation included) to the last result.
void BM_EchoCpuPerTask(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  InProcessScheduler s;
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BatchSpec spec = IndependentTasks(n, "echo", boost::json::value(1), 1000);
    state.ResumeTiming();
    const double c0 = CpuSeconds();
    core::BatchSummary summary = s.Run(std::move(spec));
    cpu += CpuSeconds() - c0;
    if (summary.successful_count != static_cast<uint32_t>(n)) state.SkipWithError("lost tasks");
  }
  state.counters["cpu_us_per_task"] = cpu / static_cast<double>(state.iterations()) / n * 1e6;
  state.SetItemsProcessed(state.iterations() * n);
}

// Issue 18: the scheduler's cost of a shared limit. The same 100,000 echo tasks, each naming a
// key whose concurrency and rate never make it wait (arg 1), or no key (arg 0): the difference
// in cpu_us_per_task is the limit's overhead (submit check, acquire, release, wake).
void BM_LimitedEchoCpuPerTask(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool limited = state.range(1) != 0;
  InProcessScheduler s;
  core::LimitSpec wide{"wide", 1'000'000, {}};
  wide.rates.push_back({1'000'000'000, std::chrono::seconds(1), std::nullopt});
  s.SetLimit(wide);
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BatchSpec spec = IndependentTasks(n, "echo", boost::json::value(1), 1000);
    if (limited) {
      for (TaskSpec& t : spec.tasks) t.limits.push_back({"wide", 1});
    }
    state.ResumeTiming();
    const double c0 = CpuSeconds();
    core::BatchSummary summary = s.Run(std::move(spec));
    cpu += CpuSeconds() - c0;
    if (summary.successful_count != static_cast<uint32_t>(n)) state.SkipWithError("lost tasks");
  }
  state.counters["cpu_us_per_task"] = cpu / static_cast<double>(state.iterations()) / n * 1e6;
  state.SetItemsProcessed(state.iterations() * n);
}

// Issue 19: the scheduler's cost of the result cache. The same N echo tasks without a cache
// policy (arg 0), with one whose every lookup misses (arg 1: inputs never seen before, each
// success stored) and with one whose every lookup hits (arg 2: the inputs of a warm-up run).
// The differences in cpu_us_per_task are a miss's cost (key, lookup, flight, store) and what
// a hit costs against running the echo task.
void BM_CachedEchoCpuPerTask(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int mode = static_cast<int>(state.range(1));
  InProcessScheduler s;
  core::CacheSpec cache;
  cache.ttl_ms = 3'600'000;
  int64_t next_input = 0;
  const auto batch = [&](bool fresh) {
    BatchSpec spec = IndependentTasks(n, "echo", nullptr, 1000);
    for (int i = 0; i < n; ++i) {
      spec.tasks[i].input = boost::json::value(fresh ? next_input++ : int64_t{i});
      if (mode != 0) spec.tasks[i].cache = cache;
    }
    return spec;
  };
  if (mode == 2) s.Run(batch(false));  // warm: every later lookup hits
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BatchSpec spec = batch(mode == 1);
    state.ResumeTiming();
    const double c0 = CpuSeconds();
    core::BatchSummary summary = s.Run(std::move(spec));
    cpu += CpuSeconds() - c0;
    if (summary.successful_count != static_cast<uint32_t>(n)) state.SkipWithError("lost tasks");
  }
  state.counters["cpu_us_per_task"] = cpu / static_cast<double>(state.iterations()) / n * 1e6;
  state.SetItemsProcessed(state.iterations() * n);
}

// Heap bytes held by the scheduler for an N-task batch, before any task finishes (parked),
// independent (arg 0) or a chain (arg 1: one edge per task). Payloads are null.
void BM_StateBytesPerTask(benchmark::State& state) {
  const int n = static_cast<int>(state.range(1));
  const bool chain = state.range(0) == 1;
  for (auto _ : state) {
    InProcessScheduler s;
    malloc_trim(0);
    const size_t before = HeapInUse();
    BatchSpec spec = IndependentTasks(n, "park", nullptr, 1);
    if (chain) {
      for (int i = 1; i < n; ++i) spec.tasks[i].dependencies.push_back(spec.tasks[i - 1].id);
    }
    s.SubmitOnly(std::move(spec));
    const size_t after = HeapInUse();
    state.counters["bytes_per_task"] = static_cast<double>(after - before) / n;
  }
}

// Heap bytes per task once every echo task has finished (results included).
void BM_FinishedBytesPerTask(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    InProcessScheduler s;
    malloc_trim(0);
    const size_t before = HeapInUse();
    core::BatchSummary summary = s.Run(IndependentTasks(n, "echo", nullptr, 1000));
    const size_t after = HeapInUse();
    state.counters["bytes_per_task"] = static_cast<double>(after - before) / n;
  }
}

// N x sleep 10 ms at max_concurrent C: efficiency = ideal / actual wall time.
void BM_SleepEfficiency(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const uint32_t c = static_cast<uint32_t>(state.range(1));
  InProcessScheduler s(c);
  double wall_ms = 0;
  double submit_ms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BatchSpec spec = IndependentTasks(n, "sleep", boost::json::object{{"ms", 10}}, c);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    core::BatchSummary summary = s.Run(std::move(spec));
    wall_ms += core::ToMillis(std::chrono::steady_clock::now() - t0);
    submit_ms += core::ToMillis(std::chrono::steady_clock::now() - t0) - summary.total_duration_ms;
  }
  state.counters["outside_batch_ms"] = submit_ms / static_cast<double>(state.iterations());
  const double ideal = 10.0 * ((n + c - 1) / c);
  const double mean = wall_ms / static_cast<double>(state.iterations());
  state.counters["ideal_ms"] = ideal;
  state.counters["wall_ms"] = mean;
  state.counters["efficiency"] = ideal / mean;
}
BENCHMARK(BM_SleepEfficiency)
    ->Args({10000, 1000})
    ->Args({2000, 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);

// A fan-out/fan-in DAG with uneven branches: root (10 ms) -> 8 branches whose chains are
// 1..8 sleeps of 20 ms -> sink (10 ms). Critical path: 10 + 8*20 + 10 = 180 ms. A layer-barrier
// execution would also take 180 ms here; the uneven second DAG separates them.
BatchSpec UnevenDag(double* critical_ms) {
  BatchSpec spec;
  spec.tasks.push_back(Task("root", "sleep", boost::json::object{{"ms", 10}}));
  std::vector<std::string> tails;
  for (int b = 1; b <= 8; ++b) {
    std::string prev = "root";
    for (int k = 0; k < b; ++k) {
      std::string id = "b" + std::to_string(b) + "_" + std::to_string(k);
      // Long steps early on short branches, so layers are uneven.
      int ms = (k == 0) ? 20 * (9 - b) : 20;
      TaskSpec t = Task(id, "sleep", boost::json::object{{"ms", ms}});
      t.dependencies.push_back(prev);
      spec.tasks.push_back(std::move(t));
      prev = id;
    }
    tails.push_back(prev);
  }
  TaskSpec sink = Task("sink", "sleep", boost::json::object{{"ms", 10}});
  sink.dependencies = tails;
  spec.tasks.push_back(std::move(sink));
  spec.options.max_concurrent = 100;
  // Branch b takes 20*(9-b) + 20*(b-1) = 160 ms for every b: critical path 10 + 160 + 10.
  *critical_ms = 180;
  return spec;
}

void BM_DagMakespan(benchmark::State& state) {
  InProcessScheduler s;
  double wall_ms = 0;
  double critical = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BatchSpec spec = UnevenDag(&critical);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    s.Run(std::move(spec));
    wall_ms += core::ToMillis(std::chrono::steady_clock::now() - t0);
  }
  const double mean = wall_ms / static_cast<double>(state.iterations());
  state.counters["critical_path_ms"] = critical;
  state.counters["makespan_ms"] = mean;
  state.counters["makespan_over_critical"] = mean / critical;
  // What a layer-by-layer barrier would take: sum over layers of the longest task in it.
  // Layer 1 holds the first step of each branch (longest 160 ms), layers 2..8 hold 20 ms steps.
  state.counters["barrier_ms"] = 10 + 160 + 7 * 20 + 10;
}
BENCHMARK(BM_DagMakespan)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

// Registers the size-dependent benchmarks: at `tasks` when given (> 0), else at the defaults.
void RegisterSized(int tasks) {
  const std::vector<int64_t> cpu_sizes =
      tasks > 0 ? std::vector<int64_t>{tasks} : std::vector<int64_t>{100000, 1000000};
  const int64_t bytes_size = tasks > 0 ? tasks : 1000000;
  for (int64_t n : cpu_sizes) {
    benchmark::RegisterBenchmark("BM_EchoCpuPerTask", BM_EchoCpuPerTask)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_LimitedEchoCpuPerTask", BM_LimitedEchoCpuPerTask)
      ->Args({cpu_sizes.front(), 0})
      ->Args({cpu_sizes.front(), 1})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_CachedEchoCpuPerTask", BM_CachedEchoCpuPerTask)
      ->Args({cpu_sizes.front(), 0})
      ->Args({cpu_sizes.front(), 1})
      ->Args({cpu_sizes.front(), 2})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_StateBytesPerTask", BM_StateBytesPerTask)
      ->Args({0, bytes_size})
      ->Args({1, bytes_size})
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_FinishedBytesPerTask", BM_FinishedBytesPerTask)
      ->Arg(bytes_size)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

// Removes --tasks=N from argv (Google Benchmark rejects flags it does not know); 0 if absent.
int TakeTasksFlag(int* argc, char** argv) {
  int tasks = 0;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--tasks=", 0) == 0) {
      tasks = std::stoi(arg.substr(8));
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  return tasks;
}

}  // namespace
}  // namespace batchd::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  batchd::bench::RegisterSized(batchd::bench::TakeTasksFlag(&argc, argv));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
