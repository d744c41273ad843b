#include "core/graph/task_graph.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/model/field_violation.h"

namespace batchd::core {
namespace {

// A cycle message lists at most this many tasks: a status message travels in gRPC trailers,
// whose size is limited, and a cycle of a million tasks must not break the reply.
constexpr size_t kMaxNamedCycleTasks = 50;
// Indices and CSR offsets are uint32_t; the maximum value marks "none".
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// Task indices hashed and compared by their ids, found by name through heterogeneous lookup.
// Four bytes a slot instead of a string_view and index (24), which matters at a million
// tasks. Lives only during Build: the graph itself keeps no per-task strings.
class IdHash {
 public:
  using is_transparent = void;
  explicit IdHash(absl::Span<const TaskSpec> tasks) : tasks_(tasks) {}
  size_t operator()(uint32_t task) const { return (*this)(absl::string_view(tasks_[task].id)); }
  size_t operator()(absl::string_view id) const { return absl::Hash<absl::string_view>()(id); }

 private:
  absl::Span<const TaskSpec> tasks_;
};

class IdEq {
 public:
  using is_transparent = void;
  explicit IdEq(absl::Span<const TaskSpec> tasks) : tasks_(tasks) {}
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return IdOf(a) == IdOf(b);
  }

 private:
  absl::string_view IdOf(uint32_t task) const { return tasks_[task].id; }
  static absl::string_view IdOf(absl::string_view id) { return id; }

  absl::Span<const TaskSpec> tasks_;
};

using IdIndex = absl::flat_hash_set<uint32_t, IdHash, IdEq>;

struct IndexedTasks {
  IdIndex ids;
  uint64_t listed_dependencies = 0;  // before removing repeats
  bool ids_valid = true;             // no empty or duplicate id
};

// Compressed sparse rows: the neighbours of node i are targets[offsets[i], offsets[i + 1]).
struct Csr {
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> targets;
};

struct TopologicalResult {
  std::vector<uint32_t> order;     // Kahn's order; shorter than the graph when there is a cycle
  std::vector<uint32_t> layer_of;  // valid for the ordered tasks
  std::vector<uint32_t> waiting;   // per task, dependencies not ordered; > 0 iff not ordered
};

std::string TaskField(uint32_t task, absl::string_view field) {
  return absl::StrCat("tasks[", task, "].", field);
}

std::string DependencyField(uint32_t task, size_t entry) {
  return absl::StrCat("tasks[", task, "].dependencies[", entry, "]");
}

// Indexes the first task with each non-empty id and counts the listed dependencies (one pass
// over the specs); reports empty and duplicate ids and non-finite priorities, in task order.
IndexedTasks IndexTasks(absl::Span<const TaskSpec> tasks, FieldViolations& violations) {
  IndexedTasks indexed{IdIndex(0, IdHash(tasks), IdEq(tasks))};
  indexed.ids.reserve(tasks.size());
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    const TaskSpec& task = tasks[i];
    indexed.listed_dependencies += task.dependencies.size();
    if (task.id.empty()) {
      indexed.ids_valid = false;
      violations.Add([&] {
        return FieldViolation{TaskField(i, "id"),
                              absl::StrCat("Task at index ", i, " has an empty id")};
      });
    } else if (!indexed.ids.insert(i).second) {
      indexed.ids_valid = false;
      violations.Add([&] {
        return FieldViolation{TaskField(i, "id"),
                              absl::StrCat("Duplicate task id '", task.id, "'")};
      });
    }
    if (!std::isfinite(task.priority)) {
      violations.Add([&] {
        return FieldViolation{TaskField(i, "priority"),
                              absl::StrCat("Priority of task '", task.id, "' must be finite")};
      });
    }
  }
  return indexed;
}

// Each task's distinct dependencies in the order first listed; reports unknown and self
// dependencies, in task order.
Csr ResolveDependencies(absl::Span<const TaskSpec> tasks, const IdIndex& index, size_t listed,
                        FieldViolations& violations) {
  Csr deps;
  deps.offsets.reserve(tasks.size() + 1);
  deps.offsets.push_back(0);
  deps.targets.reserve(listed);
  // last_listed_by[d] == i once task i lists d: repeats in one list count once, in O(1).
  std::vector<uint32_t> last_listed_by(tasks.size(), kNone);
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    const TaskSpec& task = tasks[i];
    for (size_t j = 0; j < task.dependencies.size(); ++j) {
      const std::string& name = task.dependencies[j];
      if (!name.empty() && name == task.id) {
        violations.Add([&] {
          return FieldViolation{DependencyField(i, j),
                                absl::StrCat("Task '", task.id, "' depends on itself")};
        });
        continue;
      }
      const auto it = index.find(absl::string_view(name));
      if (it == index.end()) {
        violations.Add([&] {
          return FieldViolation{DependencyField(i, j), absl::StrCat("Unknown dependency '", name,
                                                                    "' of task '", task.id, "'")};
        });
        continue;
      }
      if (last_listed_by[*it] != i) {
        last_listed_by[*it] = i;
        deps.targets.push_back(*it);
      }
    }
    deps.offsets.push_back(static_cast<uint32_t>(deps.targets.size()));
  }
  if (deps.targets.capacity() > deps.targets.size()) deps.targets.shrink_to_fit();
  return deps;
}

// The reverse edges, each list in ascending (input) order. Filling from the last task down
// lets the offsets double as write cursors, so no extra per-task array is needed.
Csr InvertEdges(const Csr& deps) {
  const size_t n = deps.offsets.size() - 1;
  Csr out;
  out.offsets.assign(n + 1, 0);
  for (uint32_t target : deps.targets) ++out.offsets[target];
  std::partial_sum(out.offsets.begin(), out.offsets.end(), out.offsets.begin());  // list ends
  out.targets.resize(deps.targets.size());
  for (size_t i = n; i-- > 0;) {
    for (uint32_t k = deps.offsets[i]; k < deps.offsets[i + 1]; ++k) {
      out.targets[--out.offsets[deps.targets[k]]] = static_cast<uint32_t>(i);
    }
  }
  return out;
}

// Kahn's algorithm. A task is ordered only after all its dependencies, so its layer (longest
// distance from a root) is final when it is ordered.
TopologicalResult OrderTopologically(const Csr& deps, const Csr& dependents) {
  const size_t n = deps.offsets.size() - 1;
  TopologicalResult result;
  result.layer_of.assign(n, 0);
  result.waiting.resize(n);
  result.order.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    result.waiting[i] = deps.offsets[i + 1] - deps.offsets[i];
    if (result.waiting[i] == 0) result.order.push_back(static_cast<uint32_t>(i));
  }
  for (size_t head = 0; head < result.order.size(); ++head) {
    const uint32_t task = result.order[head];
    const uint32_t next_layer = result.layer_of[task] + 1;
    for (uint32_t k = dependents.offsets[task]; k < dependents.offsets[task + 1]; ++k) {
      const uint32_t dependent = dependents.targets[k];
      result.layer_of[dependent] = std::max(result.layer_of[dependent], next_layer);
      if (--result.waiting[dependent] == 0) result.order.push_back(dependent);
    }
  }
  return result;
}

// Rewrites `order` (Kahn's, same tasks) as the tasks sorted by (layer, input index): a
// topological order whose layers are contiguous. `scratch` holds one cursor per layer and
// needs at least as many entries as there are layers; reusing Kahn's buffers keeps Build
// from faulting in fresh pages.
void SortByLayer(const std::vector<uint32_t>& layer_of, std::vector<uint32_t>& scratch,
                 std::vector<uint32_t>& order) {
  if (layer_of.empty()) return;
  const uint32_t layers = *std::max_element(layer_of.begin(), layer_of.end()) + 1;
  assert(scratch.size() >= layers && order.size() == layer_of.size());
  const auto next = scratch.begin();
  std::fill(next, next + layers, 0U);
  for (uint32_t layer : layer_of) ++next[layer];
  std::exclusive_scan(next, next + layers, next, 0U);  // layer starts
  for (size_t i = 0; i < layer_of.size(); ++i) {
    order[next[layer_of[i]]++] = static_cast<uint32_t>(i);
  }
}

// One cycle among the tasks Kahn's algorithm could not order, in execution order (dependency
// before dependent) starting at its lowest index. Every unordered task waits on an unordered
// dependency, so walking those from the lowest unordered task must repeat a task; the stretch
// between the repeats is a cycle, and tasks before it (which only depend on it) are dropped.
std::vector<uint32_t> FindCycle(const Csr& deps, const std::vector<uint32_t>& waiting) {
  const auto first_waiting =
      std::find_if(waiting.begin(), waiting.end(), [](uint32_t count) { return count > 0; });
  assert(first_waiting != waiting.end());
  std::vector<uint32_t> step_of(waiting.size(), kNone);
  std::vector<uint32_t> walk;
  auto task = static_cast<uint32_t>(first_waiting - waiting.begin());
  while (step_of[task] == kNone) {
    step_of[task] = static_cast<uint32_t>(walk.size());
    walk.push_back(task);
    uint32_t k = deps.offsets[task];
    while (waiting[deps.targets[k]] == 0) ++k;  // an unordered dependency exists
    task = deps.targets[k];
  }
  // In the walk each task depends on the next; reversed, each is a dependency of the next.
  std::vector<uint32_t> cycle(walk.begin() + step_of[task], walk.end());
  std::reverse(cycle.begin(), cycle.end());
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  return cycle;
}

absl::Status CycleError(absl::Span<const TaskSpec> tasks, const Csr& deps,
                        const std::vector<uint32_t>& waiting) {
  const std::vector<uint32_t> cycle = FindCycle(deps, waiting);
  assert(cycle.size() >= 2);  // self-dependencies are rejected before
  std::string message = "Circular dependency: ";
  const size_t named = std::min(cycle.size(), kMaxNamedCycleTasks);
  for (size_t i = 0; i < named; ++i) absl::StrAppend(&message, tasks[cycle[i]].id, " -> ");
  if (named < cycle.size()) absl::StrAppend(&message, "... (", cycle.size() - named, " more) -> ");
  absl::StrAppend(&message, tasks[cycle.front()].id);

  // The field is the entry of the first edge's dependent that names the first task.
  const std::vector<std::string>& listed = tasks[cycle[1]].dependencies;
  const auto entry = std::find(listed.begin(), listed.end(), tasks[cycle[0]].id);
  return InvalidField(DependencyField(cycle[1], static_cast<size_t>(entry - listed.begin())),
                      std::move(message));
}

}  // namespace

absl::StatusOr<TaskGraph> TaskGraph::Build(absl::Span<const TaskSpec> tasks) {
  if (tasks.size() >= kNone) {
    return InvalidField("tasks", absl::StrCat("A batch must have fewer than ", kNone, " tasks"));
  }
  // Ids and priorities are checked in one walk of the tasks, dependencies in another; merged,
  // their violations are in input order. A cycle can only be looked for once every id is
  // unique and every dependency names another task; it is reported beside the other
  // violations (non-finite priorities) then.
  FieldViolations violations;
  FieldViolations dependency_violations;
  Csr deps;
  bool ids_valid = true;
  {
    const IndexedTasks indexed = IndexTasks(tasks, violations);
    if (indexed.listed_dependencies >= kNone) {
      return InvalidField("tasks",
                          absl::StrCat("A batch must list fewer than ", kNone, " dependencies"));
    }
    ids_valid = indexed.ids_valid;
    deps = ResolveDependencies(tasks, indexed.ids, static_cast<size_t>(indexed.listed_dependencies),
                               dependency_violations);
  }
  if (!ids_valid || !dependency_violations.empty()) {
    violations.Merge(std::move(dependency_violations));
    return std::move(violations).ToStatus();
  }

  Csr dependents = InvertEdges(deps);
  TopologicalResult topo = OrderTopologically(deps, dependents);
  if (topo.order.size() < tasks.size()) {
    violations.Merge(CycleError(tasks, deps, topo.waiting));
  }
  if (!violations.empty()) return std::move(violations).ToStatus();

  SortByLayer(topo.layer_of, topo.waiting, topo.order);
  TaskGraph graph;
  graph.topo_order_ = std::move(topo.order);
  graph.layer_of_ = std::move(topo.layer_of);
  graph.dependency_offsets_ = std::move(deps.offsets);
  graph.dependencies_ = std::move(deps.targets);
  graph.dependent_offsets_ = std::move(dependents.offsets);
  graph.dependents_ = std::move(dependents.targets);
  return graph;
}

absl::Span<const uint32_t> TaskGraph::Dependencies(uint32_t task) const {
  assert(task < size());
  return absl::MakeConstSpan(dependencies_.data() + dependency_offsets_[task],
                             dependency_offsets_[task + 1] - dependency_offsets_[task]);
}

absl::Span<const uint32_t> TaskGraph::Dependents(uint32_t task) const {
  assert(task < size());
  return absl::MakeConstSpan(dependents_.data() + dependent_offsets_[task],
                             dependent_offsets_[task + 1] - dependent_offsets_[task]);
}

uint32_t TaskGraph::DependencyCount(uint32_t task) const {
  assert(task < size());
  return dependency_offsets_[task + 1] - dependency_offsets_[task];
}

std::vector<std::vector<uint32_t>> TaskGraph::Layers() const {
  // topo_order_ is sorted by (layer, index) and no layer below the deepest is empty, so each
  // layer is one run of it; sizing every vector up front avoids regrowth on deep graphs.
  std::vector<std::vector<uint32_t>> layers;
  if (topo_order_.empty()) return layers;
  layers.reserve(layer_of_[topo_order_.back()] + 1);
  for (auto begin = topo_order_.begin(); begin != topo_order_.end();) {
    const uint32_t layer = layer_of_[*begin];
    const auto end = std::find_if(begin, topo_order_.end(),
                                  [&](uint32_t task) { return layer_of_[task] != layer; });
    layers.emplace_back(begin, end);
    begin = end;
  }
  return layers;
}

std::vector<uint32_t> TaskGraph::CriticalPath(absl::Span<const double> weights) const {
  const uint32_t n = size();
  assert(weights.empty() || weights.size() == n);
  const bool weighted = weights.size() == n;
  // length[t]: the heaviest chain from a root to t; previous[t]: its task before t, the
  // lowest-index dependency among equally heavy ones.
  std::vector<double> length(n);
  std::vector<uint32_t> previous(n, kNone);
  for (uint32_t task : topo_order_) {
    double longest = 0.0;
    for (uint32_t dependency : Dependencies(task)) {
      const double candidate = length[dependency];
      if (previous[task] == kNone || candidate > longest ||
          (candidate == longest && dependency < previous[task])) {
        longest = candidate;
        previous[task] = dependency;
      }
    }
    length[task] = longest + (weighted ? weights[task] : 1.0);
  }
  uint32_t end = kNone;
  for (uint32_t task = 0; task < n; ++task) {
    if (Dependents(task).empty() && (end == kNone || length[task] > length[end])) end = task;
  }
  std::vector<uint32_t> path;
  for (uint32_t task = end; task != kNone; task = previous[task]) path.push_back(task);
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace batchd::core
