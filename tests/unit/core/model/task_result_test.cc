#include "core/model/task_result.h"

#include <string>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

TEST(TaskStateNameTest, NamesEveryState) {
  EXPECT_STREQ(TaskStateName(TaskState::kPending), "PENDING");
  EXPECT_STREQ(TaskStateName(TaskState::kRunning), "RUNNING");
  EXPECT_STREQ(TaskStateName(TaskState::kRetryWait), "RETRY_WAIT");
  EXPECT_STREQ(TaskStateName(TaskState::kSucceeded), "SUCCEEDED");
  EXPECT_STREQ(TaskStateName(TaskState::kFailed), "FAILED");
  EXPECT_STREQ(TaskStateName(TaskState::kTimedOut), "TIMED_OUT");
  EXPECT_STREQ(TaskStateName(TaskState::kSkipped), "SKIPPED");
  EXPECT_STREQ(TaskStateName(TaskState::kCancelled), "CANCELLED");
  EXPECT_STREQ(TaskStateName(static_cast<TaskState>(99)), "UNKNOWN");
}

TEST(BatchStateNameTest, NamesEveryState) {
  EXPECT_STREQ(BatchStateName(BatchState::kPending), "PENDING");
  EXPECT_STREQ(BatchStateName(BatchState::kRunning), "RUNNING");
  EXPECT_STREQ(BatchStateName(BatchState::kSucceeded), "SUCCEEDED");
  EXPECT_STREQ(BatchStateName(BatchState::kFailed), "FAILED");
  EXPECT_STREQ(BatchStateName(BatchState::kCancelled), "CANCELLED");
  EXPECT_STREQ(BatchStateName(static_cast<BatchState>(99)), "UNKNOWN");
}

TEST(IsFinalTest, TaskStatesFromSucceededOnAreFinal) {
  EXPECT_FALSE(IsFinal(TaskState::kPending));
  EXPECT_FALSE(IsFinal(TaskState::kRunning));
  EXPECT_FALSE(IsFinal(TaskState::kRetryWait));
  EXPECT_TRUE(IsFinal(TaskState::kSucceeded));
  EXPECT_TRUE(IsFinal(TaskState::kFailed));
  EXPECT_TRUE(IsFinal(TaskState::kTimedOut));
  EXPECT_TRUE(IsFinal(TaskState::kSkipped));
  EXPECT_TRUE(IsFinal(TaskState::kCancelled));
}

TEST(IsFinalTest, BatchStatesFromSucceededOnAreFinal) {
  EXPECT_FALSE(IsFinal(BatchState::kPending));
  EXPECT_FALSE(IsFinal(BatchState::kRunning));
  EXPECT_TRUE(IsFinal(BatchState::kSucceeded));
  EXPECT_TRUE(IsFinal(BatchState::kFailed));
  EXPECT_TRUE(IsFinal(BatchState::kCancelled));
}

TEST(TaskResultTest, OnlySucceededIsSuccess) {
  TaskResult result;
  EXPECT_FALSE(result.success()) << "a default result is pending";
  for (TaskState state :
       {TaskState::kPending, TaskState::kRunning, TaskState::kRetryWait, TaskState::kFailed,
        TaskState::kTimedOut, TaskState::kSkipped, TaskState::kCancelled}) {
    result.state = state;
    EXPECT_FALSE(result.success()) << TaskStateName(state);
  }
  result.state = TaskState::kSucceeded;
  EXPECT_TRUE(result.success());
}

TEST(TaskResultTest, DefaultsDescribeATaskThatNeverRan) {
  const TaskResult result;
  EXPECT_EQ(result.task, 0u);
  EXPECT_EQ(result.task_id, nullptr);
  EXPECT_EQ(result.state, TaskState::kPending);
  EXPECT_EQ(result.retry_count, 0u);
  EXPECT_TRUE(result.output.is_null());
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.duration_ms, 0);
  EXPECT_EQ(result.started_at, WallTime{});
  EXPECT_EQ(result.finished_at, WallTime{});
  EXPECT_EQ(result.executor, nullptr);
}

}  // namespace
}  // namespace batchd::core
