#include "core/model/task_result.h"

namespace batchd::core {

const char* TaskStateName(TaskState s) {
  switch (s) {
    case TaskState::kPending:
      return "PENDING";
    case TaskState::kRunning:
      return "RUNNING";
    case TaskState::kRetryWait:
      return "RETRY_WAIT";
    case TaskState::kSucceeded:
      return "SUCCEEDED";
    case TaskState::kFailed:
      return "FAILED";
    case TaskState::kTimedOut:
      return "TIMED_OUT";
    case TaskState::kSkipped:
      return "SKIPPED";
    case TaskState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

const char* BatchStateName(BatchState s) {
  switch (s) {
    case BatchState::kPending:
      return "PENDING";
    case BatchState::kRunning:
      return "RUNNING";
    case BatchState::kSucceeded:
      return "SUCCEEDED";
    case BatchState::kFailed:
      return "FAILED";
    case BatchState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

}  // namespace batchd::core
