// Fuzz target: core::TaskGraph::Build on task lists derived from the bytes (ids, dependencies
// and priorities, with duplicates, unknown names, self and cyclic dependencies). A built graph
// must hold its invariants; a refused one must be refused for a reason the input really has,
// and a cycle error must name a real cycle. No state.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/graph/task_graph.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"
#include "tests/fuzz/fuzz_check.h"

namespace batchd::core {
namespace {

constexpr size_t kMaxTasks = 200;
constexpr char kCyclePrefix[] = "Circular dependency: ";

// Ids come mostly from a small set ("t0".."t<n+1>", so that duplicates and unknown names are
// common), sometimes from raw bytes (empty, odd characters).
std::string ConsumeId(FuzzedDataProvider& data, size_t n) {
  if (data.ConsumeIntegralInRange(0, 15) == 0) return data.ConsumeRandomLengthString(8);
  return "t" + std::to_string(data.ConsumeIntegralInRange<size_t>(0, n + 1));
}

std::vector<TaskSpec> ConsumeTasks(FuzzedDataProvider& data) {
  const size_t n = data.ConsumeIntegralInRange<size_t>(0, kMaxTasks);
  // Mostly distinct ids in input order, so that valid graphs are common.
  const bool sequential_ids = data.ConsumeBool();
  std::vector<TaskSpec> tasks(n);
  for (size_t i = 0; i < n && data.remaining_bytes() > 0; ++i) {
    TaskSpec& task = tasks[i];
    task.id = sequential_ids && data.ConsumeIntegralInRange(0, 31) != 0 ? "t" + std::to_string(i)
                                                                        : ConsumeId(data, n);
    const size_t deps = data.ConsumeIntegralInRange<size_t>(0, 4);
    for (size_t d = 0; d < deps; ++d) task.dependencies.push_back(ConsumeId(data, n));
    switch (data.ConsumeIntegralInRange(0, 7)) {
      case 0:
        task.priority = std::numeric_limits<double>::quiet_NaN();
        break;
      case 1:
        task.priority = -std::numeric_limits<double>::infinity();
        break;
      case 2:
        task.priority = data.ConsumeFloatingPoint<double>();
        break;
      default:
        task.priority = data.ConsumeIntegralInRange(-3, 3);
        break;
    }
  }
  return tasks;
}

// What the graph must refuse besides cycles: empty or repeated ids, unknown or self
// dependencies, non-finite priorities.
bool HasNonFinitePriority(const std::vector<TaskSpec>& tasks) {
  return std::any_of(tasks.begin(), tasks.end(),
                     [](const TaskSpec& task) { return !std::isfinite(task.priority); });
}

// An empty or repeated id or a dependency on no other task: no cycle can be looked for.
bool HasStructuralViolation(const std::vector<TaskSpec>& tasks) {
  std::set<std::string> ids;
  for (const TaskSpec& task : tasks) {
    if (task.id.empty() || !ids.insert(task.id).second) return true;
  }
  for (const TaskSpec& task : tasks) {
    for (const std::string& dep : task.dependencies) {
      if (ids.count(dep) == 0 || (!dep.empty() && dep == task.id)) return true;
    }
  }
  return false;
}

// Kahn's algorithm on the ids, independently of TaskGraph (valid input only).
bool HasCycle(const std::vector<TaskSpec>& tasks) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < tasks.size(); ++i) index.emplace(tasks[i].id, i);
  std::vector<std::set<size_t>> deps(tasks.size());
  std::vector<std::vector<size_t>> dependents(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (const std::string& dep : tasks[i].dependencies) {
      if (deps[i].insert(index.at(dep)).second) dependents[index.at(dep)].push_back(i);
    }
  }
  std::vector<size_t> waiting(tasks.size());
  std::vector<size_t> ready;
  for (size_t i = 0; i < tasks.size(); ++i) {
    waiting[i] = deps[i].size();
    if (waiting[i] == 0) ready.push_back(i);
  }
  size_t ordered = 0;
  while (!ready.empty()) {
    const size_t task = ready.back();
    ready.pop_back();
    ++ordered;
    for (size_t dependent : dependents[task]) {
      if (--waiting[dependent] == 0) ready.push_back(dependent);
    }
  }
  return ordered < tasks.size();
}

void CheckGraph(const std::vector<TaskSpec>& tasks, const TaskGraph& graph) {
  const uint32_t n = graph.size();
  FUZZ_CHECK(n == tasks.size());
  std::map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < n; ++i) index.emplace(tasks[i].id, i);

  uint64_t edges = 0;
  uint32_t deepest = 0;
  for (uint32_t t = 0; t < n; ++t) {
    // Dependencies: the distinct listed ones, in the order first listed.
    std::vector<uint32_t> expected;
    for (const std::string& dep : tasks[t].dependencies) {
      const uint32_t d = index.at(dep);
      if (std::find(expected.begin(), expected.end(), d) == expected.end()) expected.push_back(d);
    }
    const auto deps = graph.Dependencies(t);
    FUZZ_CHECK(std::vector<uint32_t>(deps.begin(), deps.end()) == expected);
    FUZZ_CHECK(graph.DependencyCount(t) == expected.size());
    edges += expected.size();
    // Layers: roots at 0; every edge goes to a later layer; a task sits right after its
    // deepest dependency.
    uint32_t layer = 0;
    for (uint32_t d : deps) {
      FUZZ_CHECK(graph.LayerOf(d) < graph.LayerOf(t));
      layer = std::max(layer, graph.LayerOf(d) + 1);
      const auto back = graph.Dependents(d);
      FUZZ_CHECK(std::find(back.begin(), back.end(), t) != back.end());
    }
    FUZZ_CHECK(graph.LayerOf(t) == layer);
    deepest = std::max(deepest, layer);
    const auto dependents = graph.Dependents(t);
    FUZZ_CHECK(std::is_sorted(dependents.begin(), dependents.end()));
  }
  FUZZ_CHECK(graph.edge_count() == edges);

  // Layers cover every task exactly once, in input order inside a layer, none empty.
  const std::vector<std::vector<uint32_t>> layers = graph.Layers();
  FUZZ_CHECK(layers.size() == (n == 0 ? 0 : deepest + 1));
  std::vector<int> seen(n, 0);
  for (size_t l = 0; l < layers.size(); ++l) {
    FUZZ_CHECK(!layers[l].empty());
    FUZZ_CHECK(std::is_sorted(layers[l].begin(), layers[l].end()));
    for (uint32_t t : layers[l]) {
      FUZZ_CHECK(t < n && graph.LayerOf(t) == l);
      ++seen[t];
    }
  }
  FUZZ_CHECK(std::all_of(seen.begin(), seen.end(), [](int count) { return count == 1; }));

  // The topological order: a permutation with every dependency first.
  const std::vector<uint32_t>& order = graph.TopologicalOrder();
  FUZZ_CHECK(order.size() == n);
  std::vector<uint32_t> position(n, std::numeric_limits<uint32_t>::max());
  for (uint32_t p = 0; p < order.size(); ++p) {
    FUZZ_CHECK(order[p] < n && position[order[p]] == std::numeric_limits<uint32_t>::max());
    position[order[p]] = p;
  }
  for (uint32_t t = 0; t < n; ++t) {
    for (uint32_t d : graph.Dependencies(t)) FUZZ_CHECK(position[d] < position[t]);
  }

  // The critical path: a chain of dependencies from a root to a leaf, as long as the layers.
  const std::vector<uint32_t> path = graph.CriticalPath();
  FUZZ_CHECK(path.size() == layers.size());
  if (!path.empty()) {
    FUZZ_CHECK(graph.DependencyCount(path.front()) == 0);
    FUZZ_CHECK(graph.Dependents(path.back()).empty());
  }
  for (size_t i = 1; i < path.size(); ++i) {
    const auto deps = graph.Dependencies(path[i]);
    FUZZ_CHECK(std::find(deps.begin(), deps.end(), path[i - 1]) != deps.end());
  }
}

// "Circular dependency: a -> b -> ... -> a", each task a dependency of the next, none twice;
// long cycles end "... (N more) -> a". Checked when no id contains the separator.
void CheckCycleError(const std::vector<TaskSpec>& tasks, const absl::Status& status) {
  FUZZ_CHECK(absl::StartsWith(status.message(), kCyclePrefix));
  const std::vector<FieldViolation> violations = FieldViolationsOf(status);
  FUZZ_CHECK(violations.size() == 1);
  FUZZ_CHECK(absl::StartsWith(violations[0].field, "tasks["));
  for (const TaskSpec& task : tasks) {
    if (absl::StrContains(task.id, " -> ") || absl::StrContains(task.id, "...")) return;
  }
  std::map<std::string, const TaskSpec*> by_id;
  for (const TaskSpec& task : tasks) by_id.emplace(task.id, &task);
  const std::vector<std::string> names =
      absl::StrSplit(absl::StripPrefix(status.message(), kCyclePrefix), " -> ");
  FUZZ_CHECK(names.size() >= 3);
  FUZZ_CHECK(names.front() == names.back());
  std::set<std::string> distinct;
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    const std::string& name = names[i];
    if (absl::StartsWith(name, "... (")) {  // the elided middle of a long cycle
      FUZZ_CHECK(i + 2 == names.size());
      continue;
    }
    FUZZ_CHECK(by_id.count(name) == 1 && distinct.insert(name).second);
    const std::string& next = names[i + 1];
    if (absl::StartsWith(next, "... (")) continue;
    const std::vector<std::string>& deps = by_id.at(next)->dependencies;
    FUZZ_CHECK(std::find(deps.begin(), deps.end(), name) != deps.end());
  }
}

}  // namespace
}  // namespace batchd::core

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace batchd::core;  // NOLINT(google-build-using-namespace): fuzz entry point
  FuzzedDataProvider data(bytes, size);
  const std::vector<TaskSpec> tasks = ConsumeTasks(data);
  const absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);
  const bool structural = HasStructuralViolation(tasks);
  const bool bad_priority = HasNonFinitePriority(tasks);
  if (graph.ok()) {
    FUZZ_CHECK(!structural && !bad_priority && !HasCycle(tasks));
    CheckGraph(tasks, *graph);
    return 0;
  }
  FUZZ_CHECK(graph.status().code() == absl::StatusCode::kInvalidArgument);
  const std::vector<FieldViolation> violations = FieldViolationsOf(graph.status());
  FUZZ_CHECK(!violations.empty() && violations.size() <= kMaxFieldViolations);
  FUZZ_CHECK(FieldViolationCountOf(graph.status()) >= violations.size());
  // One pass, in input order.
  for (size_t i = 1; i < violations.size(); ++i) {
    FUZZ_CHECK(!FieldPathBefore(violations[i].field, violations[i - 1].field));
  }
  const auto cycles = std::count_if(violations.begin(), violations.end(), [](const auto& v) {
    return absl::StartsWith(v.description, kCyclePrefix);
  });
  if (structural) {
    FUZZ_CHECK(cycles == 0);
  } else if (HasCycle(tasks)) {
    // The cycle is reported once; past kMaxFieldViolations it may be among the unlisted ones.
    const bool truncated = FieldViolationCountOf(graph.status()) > violations.size();
    FUZZ_CHECK(cycles == 1 || (truncated && cycles == 0));
    if (!bad_priority) CheckCycleError(tasks, graph.status());
  } else {
    FUZZ_CHECK(cycles == 0 && bad_priority);
  }
  return 0;
}
