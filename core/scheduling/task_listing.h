// ListTasks' snapshot of one batch's tasks: each task's state, dependencies and layer, and for
// a task that does not run, why (dependencies, a shared limit, the cache, a worker, a slot, a
// retry delay, a client). Only the tasks on the page are looked at beyond their state byte;
// final tasks point at their recorded result instead of copying it. Strand only.
#pragma once

#include <cstdint>

#include "core/model/task_status.h"
#include "core/scheduling/batch.h"
#include "core/time/clock.h"

namespace batchd::core {

// What the scheduler knows beyond the batch.
struct TaskListingContext {
  SteadyTime now{};
  uint32_t max_running = 0;  // the daemon-wide bound on running attempts
  bool daemon_full = false;  // that many run now
};

// Dependencies a waiting reason names before it stops ("waiting for 5 dependencies: a, b, c, ...").
inline constexpr size_t kMaxListedDependencies = 3;

// The tasks of `batch` that `query` selects, in task order, from query.first_task on.
TaskPage ListTasks(const Batch& batch, const TaskListQuery& query,
                   const TaskListingContext& context);

}  // namespace batchd::core
