// A validated batch's dependency graph: task ids mapped to dense indices (input order),
// dependencies and dependents in flat CSR arrays, execution layers and the critical path.
// Immutable once built; safe to read from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model/batch_spec.h"

namespace batchd::core {

class TaskGraph {
 public:
  // Validates `tasks` and builds the graph. Errors are INVALID_ARGUMENT with field violations
  // (see field_violation.h), e.g. "Duplicate task id 'a'" at tasks[3].id,
  // "Unknown dependency 'ghost' of task 'b'" at tasks[1].dependencies[0],
  // "Task 'a' depends on itself", "Priority of task 'a' must be finite",
  // "Circular dependency: a -> b -> c -> a" (only the tasks of one cycle), all in input order
  // (FieldPathBefore), the first kMaxFieldViolations listed and all counted. A cycle is looked
  // for only once ids are unique and non-empty and every dependency names another task.
  // Duplicate entries in one dependency list count once. Iterative: no recursion depth limits.
  static absl::StatusOr<TaskGraph> Build(absl::Span<const TaskSpec> tasks);

  uint32_t size() const { return static_cast<uint32_t>(layer_of_.size()); }
  uint64_t edge_count() const { return dependents_.size(); }

  // Distinct dependencies of `task`, in the order first listed.
  absl::Span<const uint32_t> Dependencies(uint32_t task) const;
  // Tasks that depend on `task`, in input order.
  absl::Span<const uint32_t> Dependents(uint32_t task) const;
  uint32_t DependencyCount(uint32_t task) const;

  // Layer of each task: the longest distance (in edges) from a root.
  uint32_t LayerOf(uint32_t task) const { return layer_of_[task]; }
  // Tasks grouped by layer; inside a layer, input order.
  std::vector<std::vector<uint32_t>> Layers() const;
  // A longest chain from a root to a leaf, root first. With empty `weights` every task counts 1;
  // otherwise weights[i] is task i's cost. Ties go to the chain ending at the earliest leaf.
  std::vector<uint32_t> CriticalPath(absl::Span<const double> weights = {}) const;
  // Tasks in a topological order (roots first).
  const std::vector<uint32_t>& TopologicalOrder() const { return topo_order_; }

 private:
  TaskGraph() = default;

  std::vector<uint32_t> dependency_offsets_;  // size() + 1
  std::vector<uint32_t> dependencies_;
  std::vector<uint32_t> dependent_offsets_;  // size() + 1
  std::vector<uint32_t> dependents_;
  std::vector<uint32_t> layer_of_;
  std::vector<uint32_t> topo_order_;
};

}  // namespace batchd::core
