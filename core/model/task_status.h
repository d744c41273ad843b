// ListTasks' values: what to list of one batch's tasks (TaskListQuery), one task as it is now
// (TaskStatus) and a page of them (TaskPage). Built on the scheduler's strand; TaskPage keeps
// its batch alive so the strings and results it points to stay valid on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model/task_result.h"
#include "core/time/clock.h"

namespace batchd::core {

inline constexpr uint32_t kDefaultTaskPageSize = 1000;
inline constexpr uint32_t kMaxTaskPageSize = 10000;

struct TaskListQuery {
  std::vector<TaskState> states;  // empty: any
  uint32_t first_task = 0;        // resume at this task index (a page token's position)
  uint32_t page_size = kDefaultTaskPageSize;
};

struct TaskStatus {
  const std::string* task_id = nullptr;
  TaskState state = TaskState::kPending;
  const std::string* executor = nullptr;
  uint32_t retry_count = 0;
  std::vector<const std::string*> dependencies;  // distinct, in the order first listed
  uint32_t layer = 0;
  double priority = 0;
  // Final: everything else (times, duration, worker, error, retries) comes from the result.
  const TaskResult* result = nullptr;
  // Not final:
  WallTime started_at{};   // RUNNING: the attempt's start; epoch otherwise
  double duration_ms = 0;  // RUNNING: how long the attempt has run so far
  std::string error;       // RETRY_WAIT: the failed attempt's
  std::string waiting_reason;
};

struct TaskPage {
  std::vector<TaskStatus> tasks;      // in task order
  std::optional<uint32_t> next_task;  // where the next page starts; none on the last page
  uint32_t total_size = 0;            // tasks that match, over all pages
  BatchState batch_state = BatchState::kPending;
  std::shared_ptr<const void> keep_alive;  // owns what `tasks` points to
};

}  // namespace batchd::core
