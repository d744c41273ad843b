// One table per enum pairing each batchd.v1 value with its core value; proto_convert (requests)
// and result_convert (answers) look values up here in either direction.
// Constant tables and pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <optional>

#include "batchd/v1/batch.pb.h"
#include "batchd/v1/limit_service.pb.h"
#include "core/limits/limit_spec.h"
#include "core/model/batch_spec.h"
#include "core/model/task_result.h"

namespace batchd::server {

template <typename Proto, typename Core>
struct EnumPair {
  Proto proto;
  Core core;
};

// Every value but UNSPECIFIED (0): in a request that is "the daemon's default", and an answer
// never sends it.
template <typename Proto, typename Core, size_t N>
class EnumConversion {
 public:
  constexpr EnumConversion(const EnumPair<Proto, Core> (&rows)[N], std::optional<Core> unspecified)
      : rows_(std::to_array(rows)), unspecified_(unspecified) {}

  // The core value of a request's raw number: the default for UNSPECIFIED, nullopt for a number
  // this build does not know.
  constexpr std::optional<Core> ToCore(int value) const {
    if (value == 0) return unspecified_;
    for (const EnumPair<Proto, Core>& row : rows_) {
      if (row.proto == value) return row.core;
    }
    return std::nullopt;
  }

  // UNSPECIFIED only for a value missing from the table (a number cast to the core enum).
  constexpr Proto ToProto(Core value) const {
    for (const EnumPair<Proto, Core>& row : rows_) {
      if (row.core == value) return row.proto;
    }
    return Proto{};
  }

  constexpr auto begin() const { return rows_.begin(); }
  constexpr auto end() const { return rows_.end(); }
  static constexpr size_t size() { return N; }

 private:
  std::array<EnumPair<Proto, Core>, N> rows_;
  std::optional<Core> unspecified_;
};

// `unspecified`: the core value UNSPECIFIED stands for in requests; nullopt for an enum that
// only answers carry.
template <typename Proto, typename Core, size_t N>
constexpr EnumConversion<Proto, Core, N> MakeEnumConversion(const EnumPair<Proto, Core> (&rows)[N],
                                                            std::optional<Core> unspecified) {
  return EnumConversion<Proto, Core, N>(rows, unspecified);
}

inline constexpr auto kTaskStates = MakeEnumConversion<v1::TaskState, core::TaskState>(
    {
        {v1::TASK_STATE_PENDING, core::TaskState::kPending},
        {v1::TASK_STATE_RUNNING, core::TaskState::kRunning},
        {v1::TASK_STATE_RETRY_WAIT, core::TaskState::kRetryWait},
        {v1::TASK_STATE_SUCCEEDED, core::TaskState::kSucceeded},
        {v1::TASK_STATE_FAILED, core::TaskState::kFailed},
        {v1::TASK_STATE_TIMED_OUT, core::TaskState::kTimedOut},
        {v1::TASK_STATE_SKIPPED, core::TaskState::kSkipped},
        {v1::TASK_STATE_CANCELLED, core::TaskState::kCancelled},
    },
    std::nullopt);

inline constexpr auto kBatchStates = MakeEnumConversion<v1::BatchState, core::BatchState>(
    {
        {v1::BATCH_STATE_PENDING, core::BatchState::kPending},
        {v1::BATCH_STATE_RUNNING, core::BatchState::kRunning},
        {v1::BATCH_STATE_SUCCEEDED, core::BatchState::kSucceeded},
        {v1::BATCH_STATE_FAILED, core::BatchState::kFailed},
        {v1::BATCH_STATE_CANCELLED, core::BatchState::kCancelled},
    },
    std::nullopt);

inline constexpr auto kRetryKinds = MakeEnumConversion<v1::RetryKind, core::RetryKind>(
    {
        {v1::RETRY_KIND_NONE, core::RetryKind::kNone},
        {v1::RETRY_KIND_FIXED, core::RetryKind::kFixed},
        {v1::RETRY_KIND_LINEAR, core::RetryKind::kLinear},
        {v1::RETRY_KIND_EXPONENTIAL, core::RetryKind::kExponential},
    },
    core::kDefaultRetryKind);

inline constexpr auto kJitters = MakeEnumConversion<v1::Jitter, core::Jitter>(
    {
        {v1::JITTER_NONE, core::Jitter::kNone},
        {v1::JITTER_FULL, core::Jitter::kFull},
        {v1::JITTER_EQUAL, core::Jitter::kEqual},
    },
    core::kDefaultJitter);

inline constexpr auto kAggregations = MakeEnumConversion<v1::Aggregation, core::Aggregation>(
    {
        {v1::AGGREGATION_ORDERED, core::Aggregation::kOrdered},
        {v1::AGGREGATION_UNORDERED, core::Aggregation::kUnordered},
        {v1::AGGREGATION_STREAMING, core::Aggregation::kStreaming},
        {v1::AGGREGATION_PRIORITY, core::Aggregation::kPriority},
    },
    core::kDefaultAggregation);

inline constexpr auto kLoadBalancers = MakeEnumConversion<v1::LoadBalancer, core::LoadBalancerKind>(
    {
        {v1::LOAD_BALANCER_ROUND_ROBIN, core::LoadBalancerKind::kRoundRobin},
        {v1::LOAD_BALANCER_LEAST_LOADED, core::LoadBalancerKind::kLeastLoaded},
        {v1::LOAD_BALANCER_WEIGHTED, core::LoadBalancerKind::kWeighted},
        {v1::LOAD_BALANCER_RANDOM, core::LoadBalancerKind::kRandom},
    },
    core::kDefaultLoadBalancer);

inline constexpr auto kDependencyFailures =
    MakeEnumConversion<v1::DependencyFailure, core::DependencyFailure>(
        {
            {v1::DEPENDENCY_FAILURE_SKIP_DEPENDENTS, core::DependencyFailure::kSkipDependents},
            {v1::DEPENDENCY_FAILURE_RUN_DEPENDENTS, core::DependencyFailure::kRunDependents},
            {v1::DEPENDENCY_FAILURE_CANCEL_BATCH, core::DependencyFailure::kCancelBatch},
        },
        core::kDefaultDependencyFailure);

inline constexpr auto kRateMeasures = MakeEnumConversion<v1::RateMeasure, core::RateMeasure>(
    {
        {v1::RATE_MEASURE_UNITS, core::RateMeasure::kUnits},
        {v1::RATE_MEASURE_REQUESTS, core::RateMeasure::kRequests},
    },
    core::RateMeasure::kUnits);

}  // namespace batchd::server
