#include "server/rpc/request_limits.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/model/field_violation.h"

namespace batchd::server {

absl::Status CheckTaskCount(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                            const RequestLimits& limits) {
  if (static_cast<uint64_t>(tasks.size()) > limits.max_batch_tasks) {
    return core::InvalidField("tasks",
                              absl::StrCat("Batch has ", tasks.size(), " tasks; the limit is ",
                                           limits.max_batch_tasks, " (--max-batch-tasks)"));
  }
  return absl::OkStatus();
}

core::FieldViolations CheckSizeLimits(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                                      const v1::BatchOptions& options,
                                      const google::protobuf::Map<std::string, std::string>& labels,
                                      const RequestLimits& limits) {
  core::FieldViolations violations;
  for (int i = 0; i < tasks.size(); ++i) {
    const v1::Task& task = tasks[i];
    if (static_cast<size_t>(task.limits_size()) > kMaxTaskLimits) {
      violations.Add([&] {
        return core::FieldViolation{
            absl::StrCat("tasks[", i, "].limits"),
            absl::StrCat("Task '", task.id(), "' names ", task.limits_size(),
                         " limits; the limit is ", kMaxTaskLimits)};
      });
    }
    if (!task.has_input()) continue;
    const size_t bytes = task.input().ByteSizeLong();
    if (bytes > limits.max_task_input_bytes) {
      violations.Add([&] {
        return core::FieldViolation{
            absl::StrCat("tasks[", i, "].input"),
            absl::StrCat("Input of task '", task.id(), "' is ", bytes, " bytes; the limit is ",
                         limits.max_task_input_bytes, " (--max-task-input-bytes)")};
      });
    }
  }
  if (static_cast<size_t>(options.default_limits_size()) > kMaxDefaultLimits) {
    violations.Add("options.default_limits",
                   absl::StrCat("Batch names ", options.default_limits_size(),
                                " default limits; the limit is ", kMaxDefaultLimits));
  }
  // Labels come after the tasks (and options) in the request; a map has no order of its own,
  // so Merge sorts them by key.
  core::FieldViolations label_violations;
  if (labels.size() > kMaxLabels) {
    label_violations.Add(
        "labels", absl::StrCat("Batch has ", labels.size(), " labels; the limit is ", kMaxLabels));
  }
  for (const auto& [key, value] : labels) {
    if (key.size() > kMaxLabelKeyBytes) {
      label_violations.Add("labels", absl::StrCat("Label key of ", key.size(),
                                                  " bytes; the limit is ", kMaxLabelKeyBytes));
    } else if (value.size() > kMaxLabelValueBytes) {
      label_violations.Add(absl::StrCat("labels[", key, "]"),
                           absl::StrCat("Label '", key, "' has a value of ", value.size(),
                                        " bytes; the limit is ", kMaxLabelValueBytes));
    }
  }
  violations.Merge(std::move(label_violations));
  return violations;
}

absl::Status CheckRequestLimits(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                                const v1::BatchOptions& options,
                                const google::protobuf::Map<std::string, std::string>& labels,
                                const RequestLimits& limits) {
  RETURN_IF_ERROR(CheckTaskCount(tasks, limits));
  return CheckSizeLimits(tasks, options, labels, limits).ToStatus();
}

absl::Status CheckCancelReason(const std::string& reason) {
  if (reason.size() <= kMaxCancelReasonBytes) return absl::OkStatus();
  return core::InvalidField("reason", absl::StrCat("Cancel reason is ", reason.size(),
                                                   " bytes; the limit is ", kMaxCancelReasonBytes));
}

absl::Status CheckCompletion(const v1::CompleteTaskRequest& request, const RequestLimits& limits) {
  if (request.task_id().empty()) return core::InvalidField("task_id", "task_id is empty");
  if (request.token().empty()) {
    return core::InvalidField("token",
                              "token is empty: CompleteTask needs the token of the task's running "
                              "attempt (BatchProgress.awaiting_completion)");
  }
  switch (request.outcome_case()) {
    case v1::CompleteTaskRequest::kOutput: {
      const size_t bytes = request.output().ByteSizeLong();
      if (bytes > limits.max_task_input_bytes) {
        return core::InvalidField(
            "output", absl::StrCat("output is ", bytes, " bytes; the limit is ",
                                   limits.max_task_input_bytes, " (--max-task-input-bytes)"));
      }
      return absl::OkStatus();
    }
    case v1::CompleteTaskRequest::kError:
      if (request.error().empty()) {
        return core::InvalidField("error", "error is empty: say why the task failed");
      }
      if (request.error().size() > kMaxCompletionErrorBytes) {
        return core::InvalidField(
            "error", absl::StrCat("error is ", request.error().size(), " bytes; the limit is ",
                                  kMaxCompletionErrorBytes));
      }
      return absl::OkStatus();
    case v1::CompleteTaskRequest::OUTCOME_NOT_SET:
      break;
  }
  return core::InvalidField("outcome",
                            "CompleteTask needs an output (the task succeeds) or an error (its "
                            "attempt fails)");
}

}  // namespace batchd::server
