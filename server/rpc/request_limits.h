// Per-request limits checked before a batch is converted: the number of tasks, each task's
// input size and count of shared limits, the batch's default limits, and the labels (count and
// sizes, fixed: labels are kept with every retained batch and repeated in every listing and
// progress update; limits are checked at submit and held per task while it waits or runs).
// Over a limit is INVALID_ARGUMENT naming the limit (and its flag, when it has one): the request
// can never succeed as sent. Free functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "batchd/v1/batch.pb.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/model/field_violation.h"
#include "google/protobuf/map.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace batchd::server {

struct RequestLimits {
  uint32_t max_batch_tasks = 1000000;
  uint32_t max_task_input_bytes = 1 << 20;
};

inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelKeyBytes = 256;
inline constexpr size_t kMaxLabelValueBytes = 4096;
// A cancel reason is repeated in the error of every task the cancel ends (and in the summary):
// unbounded, one request could make every result of a big batch megabytes long.
inline constexpr size_t kMaxCancelReasonBytes = 1024;
// Shared limits one task names (Task.limits), and the batch's default_limits. An API call
// rarely needs more than a few keys (a provider, a model, a tenant).
inline constexpr size_t kMaxTaskLimits = 16;
inline constexpr size_t kMaxDefaultLimits = 16;

// The number of tasks: over the limit, the request is refused with this violation alone (its
// tasks are not looked at).
absl::Status CheckTaskCount(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                            const RequestLimits& limits);
// Each task's input size and limit count, the options' default limit count, then the labels,
// in input order.
core::FieldViolations CheckSizeLimits(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                                      const v1::BatchOptions& options,
                                      const google::protobuf::Map<std::string, std::string>& labels,
                                      const RequestLimits& limits);
// Both of the above.
absl::Status CheckRequestLimits(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                                const v1::BatchOptions& options,
                                const google::protobuf::Map<std::string, std::string>& labels,
                                const RequestLimits& limits);
// CancelBatch's reason: INVALID_ARGUMENT at `reason` over kMaxCancelReasonBytes.
absl::Status CheckCancelReason(const std::string& reason);
// A CompleteTask error is kept as the task's error like an executor's.
inline constexpr size_t kMaxCompletionErrorBytes = 64 << 10;
// CompleteTask's fields other than batch_id: a task id, a token, an outcome (an output of at
// most max_task_input_bytes, or a non-empty error of at most kMaxCompletionErrorBytes).
absl::Status CheckCompletion(const v1::CompleteTaskRequest& request, const RequestLimits& limits);

}  // namespace batchd::server
