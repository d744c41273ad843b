#include "server/request_limits.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/field_violation.h"

namespace batchd::server {

absl::Status CheckRequestLimits(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                                const google::protobuf::Map<std::string, std::string>& labels,
                                const RequestLimits& limits) {
  if (static_cast<uint64_t>(tasks.size()) > limits.max_batch_tasks) {
    return core::InvalidField("tasks", absl::StrCat("Batch has ", tasks.size(),
                                                    " tasks; the limit is ", limits.max_batch_tasks,
                                                    " (--max-batch-tasks)"));
  }
  std::vector<core::FieldViolation> violations;
  for (int i = 0; i < tasks.size() && violations.size() < 100; ++i) {
    const v1::Task& task = tasks[i];
    if (!task.has_input()) continue;
    const size_t bytes = task.input().ByteSizeLong();
    if (bytes > limits.max_task_input_bytes) {
      violations.push_back({absl::StrCat("tasks[", i, "].input"),
                            absl::StrCat("Input of task '", task.id(), "' is ", bytes,
                                         " bytes; the limit is ", limits.max_task_input_bytes,
                                         " (--max-task-input-bytes)")});
    }
  }
  if (labels.size() > kMaxLabels) {
    violations.push_back({"labels", absl::StrCat("Batch has ", labels.size(),
                                                 " labels; the limit is ", kMaxLabels)});
  }
  for (const auto& [key, value] : labels) {
    if (violations.size() >= 100) break;
    if (key.size() > kMaxLabelKeyBytes) {
      violations.push_back({"labels", absl::StrCat("Label key of ", key.size(),
                                                   " bytes; the limit is ", kMaxLabelKeyBytes)});
    } else if (value.size() > kMaxLabelValueBytes) {
      violations.push_back({absl::StrCat("labels[", key, "]"),
                            absl::StrCat("Label '", key, "' has a value of ", value.size(),
                                         " bytes; the limit is ", kMaxLabelValueBytes)});
    }
  }
  if (!violations.empty()) return core::InvalidArgumentWithViolations(std::move(violations));
  return absl::OkStatus();
}

absl::Status CheckCancelReason(const std::string& reason) {
  if (reason.size() <= kMaxCancelReasonBytes) return absl::OkStatus();
  return core::InvalidField("reason", absl::StrCat("Cancel reason is ", reason.size(),
                                                   " bytes; the limit is ", kMaxCancelReasonBytes));
}

}  // namespace batchd::server
