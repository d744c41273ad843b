// Load-balancer preview: how a list of tasks would be spread over N equal workers by each
// strategy (the design's assign_tasks). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model/batch_spec.h"

namespace batchd::core {

// One entry per worker holding task indices (into `tasks`) in assignment order.
//  kRoundRobin:  task i -> worker i mod w.
//  kLeastLoaded: stable sort by priority descending; each to the worker with the fewest tasks,
//                lowest index on ties.
//  kWeighted:    balance the sum of priorities: heaviest first to the lightest worker (by
//                summed weight, lowest index on ties); zero or negative priorities weigh 1.
//  kRandom:      uniform, reproducible from `seed`.
// workers == 0 -> INVALID_ARGUMENT "Number of workers must be greater than 0".
absl::StatusOr<std::vector<std::vector<uint32_t>>> AssignTasks(absl::Span<const TaskSpec> tasks,
                                                               uint32_t workers,
                                                               LoadBalancerKind strategy,
                                                               uint64_t seed);

}  // namespace batchd::core
