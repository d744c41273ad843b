// What a batch produces: final task results, the batch summary and progress snapshots.
// Results are immutable once recorded; BatchSummary keeps its batch alive so the pointers it
// holds stay valid on any thread.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/enum_name.h"
#include "core/time/clock.h"

namespace batchd::core {

enum class TaskState : uint8_t {
  kPending,
  kRunning,
  kRetryWait,
  kSucceeded,
  kFailed,
  kTimedOut,
  kSkipped,
  kCancelled
};
enum class BatchState : uint8_t { kPending, kRunning, kSucceeded, kFailed, kCancelled };

inline bool IsFinal(TaskState s) { return s >= TaskState::kSucceeded; }
inline bool IsFinal(BatchState s) { return s >= BatchState::kSucceeded; }

// The states' names in logs, errors and metric labels; batchd.v1 spells the same names with a
// TASK_STATE_ / BATCH_STATE_ prefix (server/convert's enum_convert_test keeps them in step).
inline constexpr auto kTaskStateNames = MakeEnumNames<TaskState>(
    {
        {TaskState::kPending, "PENDING"},
        {TaskState::kRunning, "RUNNING"},
        {TaskState::kRetryWait, "RETRY_WAIT"},
        {TaskState::kSucceeded, "SUCCEEDED"},
        {TaskState::kFailed, "FAILED"},
        {TaskState::kTimedOut, "TIMED_OUT"},
        {TaskState::kSkipped, "SKIPPED"},
        {TaskState::kCancelled, "CANCELLED"},
    },
    "UNKNOWN");
inline constexpr auto kBatchStateNames = MakeEnumNames<BatchState>(
    {
        {BatchState::kPending, "PENDING"},
        {BatchState::kRunning, "RUNNING"},
        {BatchState::kSucceeded, "SUCCEEDED"},
        {BatchState::kFailed, "FAILED"},
        {BatchState::kCancelled, "CANCELLED"},
    },
    "UNKNOWN");
const char* TaskStateName(TaskState s);
const char* BatchStateName(BatchState s);

// The task whose attempt produced a result served from the cache.
struct CachedFrom {
  std::string batch_id;
  std::string task_id;
};

struct TaskResult {
  uint32_t task = 0;  // index in the batch
  const std::string* task_id = nullptr;
  TaskState state = TaskState::kPending;
  uint32_t retry_count = 0;
  double priority = 0;
  boost::json::value output;
  std::string error;
  double duration_ms = 0;  // of the final attempt; 0 when it never ran
  WallTime started_at{};   // of the final attempt; epoch when it never ran
  WallTime finished_at{};
  std::string worker_id;
  const std::string* executor = nullptr;
  // Set when the output came from the cache (shared with the cache entry).
  std::shared_ptr<const CachedFrom> cached_from{};

  bool success() const { return state == TaskState::kSucceeded; }
};

// A task after a client acted on it (CancelTask, CompleteTask): its state, and its result once
// it is final.
struct TaskUpdate {
  TaskState state = TaskState::kPending;
  uint32_t retry_count = 0;
  const TaskResult* result = nullptr;      // when final
  std::shared_ptr<const void> keep_alive;  // owns `result`
};

// What StreamTaskOutput reads at a time: output from `offset` (`dropped` bytes after the
// reader's offset were no longer kept), or, once the task is final and the reader has all of
// it, its result.
struct TaskOutputRead {
  uint64_t offset = 0;
  std::string data;
  uint64_t dropped = 0;
  const TaskResult* result = nullptr;
  std::shared_ptr<const void> keep_alive;  // owns `result`
};

// What AddTasks answers.
struct AddTasksResult {
  uint32_t total_tasks = 0;    // the batch's tasks now
  bool already_added = false;  // its request_id had added them before
};

struct BatchSummary {
  std::string batch_id;
  BatchState state = BatchState::kPending;
  std::vector<const TaskResult*> results;  // in the batch's aggregation order
  double total_duration_ms = 0;
  uint32_t total_tasks = 0;
  uint32_t successful_count = 0;
  uint32_t failed_count = 0;
  uint32_t retried_count = 0;
  double throughput_per_second = 0;
  double success_rate = 0;
  double avg_duration_ms = 0;
  std::string cancel_reason;
  std::shared_ptr<const void> keep_alive;  // owns what `results` points to
};

inline constexpr size_t kMaxListedAwaitingTasks = 100;

struct BatchProgress {
  std::string batch_id;
  BatchState state = BatchState::kPending;
  uint32_t total_tasks = 0;
  uint32_t completed_tasks = 0;
  uint32_t successful_tasks = 0;
  uint32_t failed_tasks = 0;
  uint32_t running_tasks = 0;
  uint32_t pending_tasks = 0;
  // Of the pending tasks, those ready but waiting for a shared limit, and on what.
  uint32_t throttled_tasks = 0;
  struct LimitWait {
    std::string key;
    uint32_t tasks = 0;
    std::string reason;  // e.g. "waiting for limit 'openai' (rate)"

    bool operator==(const LimitWait&) const = default;
  };
  std::vector<LimitWait> limit_waits{};  // by key
  // Of the pending tasks, those waiting for a running attempt with the same cache key.
  uint32_t cache_waiting_tasks = 0;
  // Of the running tasks, those waiting for a client's CompleteTask (the external executor), and
  // the first kMaxListedAwaitingTasks of them in task order with what completing them needs.
  uint32_t awaiting_completion_tasks = 0;
  struct AwaitingCompletion {
    std::string task_id;
    std::string token;  // CompleteTask presents it
    WallTime since{};
    uint32_t retry_count = 0;
    boost::json::value input;  // what the person or system completing it reviews
  };
  std::vector<AwaitingCompletion> awaiting_completion{};
  double progress_percentage = 0;
  double estimated_remaining_ms = 0;  // 0 when finished or not yet estimable
  WallTime created_at{};
  std::map<std::string, std::string> labels;
};

// A slice of a batch's result log for one reader.
struct ResultChunk {
  std::vector<const TaskResult*> results;
  uint64_t last_sequence = 0;           // sequence of the last result here (or the cursor)
  std::optional<BatchSummary> summary;  // set, with no results, once the reader is at the end
  std::shared_ptr<const void> keep_alive;
};

struct ProgressUpdate {
  BatchProgress progress;
  uint64_t version = 0;
  SteadyTime delivered_at{};
  bool final = false;
};

}  // namespace batchd::core
