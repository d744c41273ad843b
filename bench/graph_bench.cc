// TaskGraph::Build (+ Layers()) on large batch shapes: time per task and memory footprint.
// Counters: per_task (seconds per task), peak_rss (VmHWM, reset per case where the kernel
// allows), rss_growth (that peak minus the RSS with the input alone: what the timed calls
// need at most), graph_bytes_per_task (heap retained by one live graph, from mallinfo2).
#include <malloc.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "benchmark/benchmark.h"
#include "core/graph/task_graph.h"

namespace batchd::core {
namespace {

// A "VmXXX:   1234 kB" line of /proc/self/status, in bytes; 0 when unavailable.
double ProcStatusBytes(absl::string_view key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view view(line);
    if (!absl::ConsumePrefix(&view, key) || !absl::ConsumePrefix(&view, ":")) continue;
    absl::ConsumeSuffix(&view, "kB");
    uint64_t kib = 0;
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(view), &kib)
               ? 1024.0 * static_cast<double>(kib)
               : 0.0;
  }
  return 0.0;
}

// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0); harmless if refused.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

std::vector<TaskSpec> Chain(uint32_t n) {
  std::vector<TaskSpec> tasks(n);
  for (uint32_t i = 0; i < n; ++i) {
    tasks[i].id = "t" + std::to_string(i);
    if (i > 0) tasks[i].dependencies.push_back(tasks[i - 1].id);
  }
  return tasks;
}

std::vector<TaskSpec> FanIn(uint32_t roots) {
  std::vector<TaskSpec> tasks(roots + 1);
  tasks[roots].id = "sink";
  tasks[roots].dependencies.reserve(roots);
  for (uint32_t i = 0; i < roots; ++i) {
    tasks[i].id = "r" + std::to_string(i);
    tasks[roots].dependencies.push_back(tasks[i].id);
  }
  return tasks;
}

std::vector<TaskSpec> Independent(uint32_t n) {
  std::vector<TaskSpec> tasks(n);
  for (uint32_t i = 0; i < n; ++i) tasks[i].id = "t" + std::to_string(i);
  return tasks;
}

void RunBuild(benchmark::State& state, const std::vector<TaskSpec>& tasks, bool with_layers) {
  malloc_trim(0);  // return the previous case's freed memory, so RSS is this input's
  const double rss_with_input = ProcStatusBytes("VmRSS");
  ResetPeakRss();
  for (auto _ : state) {
    absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);
    if (!graph.ok()) {
      state.SkipWithError(std::string(graph.status().message()).c_str());
      return;
    }
    if (with_layers) benchmark::DoNotOptimize(graph->Layers());
  }
  const double peak_rss = ProcStatusBytes("VmHWM");
  // One more build outside the timed loop to measure what a live graph holds.
  const double heap_before = HeapInUse();
  const absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);
  const double heap_retained = HeapInUse() - heap_before;

  const auto n = static_cast<double>(tasks.size());
  state.counters["per_task"] = benchmark::Counter(
      n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["edges"] = static_cast<double>(graph->edge_count());
  state.counters["peak_rss"] =
      benchmark::Counter(peak_rss, benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
  // Peak memory the timed calls needed on top of the input (0 if the kernel refused the reset).
  state.counters["rss_growth"] = benchmark::Counter(
      peak_rss - rss_with_input, benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
  state.counters["graph_bytes_per_task"] = heap_retained / n;
}

void BM_Chain1M(benchmark::State& state) { RunBuild(state, Chain(1000000), true); }
void BM_Chain1MBuildOnly(benchmark::State& state) { RunBuild(state, Chain(1000000), false); }
void BM_FanIn100k(benchmark::State& state) { RunBuild(state, FanIn(100000), true); }
void BM_Independent1M(benchmark::State& state) { RunBuild(state, Independent(1000000), true); }

// Fixed iterations so each input (hundreds of MB of TaskSpecs) is generated once per case.
BENCHMARK(BM_Chain1M)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_Chain1MBuildOnly)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_FanIn100k)->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_Independent1M)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace batchd::core

BENCHMARK_MAIN();
