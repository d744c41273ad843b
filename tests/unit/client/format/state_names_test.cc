#include "client/format/state_names.h"

#include <gtest/gtest.h>

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

TEST(StateNamesTest, StripsPrefixesAndNamesUnknownValues) {
  EXPECT_EQ(TaskStateName(v1::TASK_STATE_RETRY_WAIT), "RETRY_WAIT");
  EXPECT_EQ(BatchStateName(v1::BATCH_STATE_CANCELLED), "CANCELLED");
  EXPECT_EQ(TaskStateName(static_cast<v1::TaskState>(42)), "UNKNOWN(42)");
  EXPECT_TRUE(IsFinal(v1::BATCH_STATE_FAILED));
  EXPECT_FALSE(IsFinal(v1::BATCH_STATE_RUNNING));
}

TEST(StateNamesTest, ParsesNamesAsUsersTypeThem) {
  EXPECT_EQ(ParseBatchStateName("running"), v1::BATCH_STATE_RUNNING);
  EXPECT_EQ(ParseBatchStateName("SUCCEEDED"), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(ParseBatchStateName("batch_state_failed"), v1::BATCH_STATE_FAILED);
  EXPECT_EQ(ParseTaskStateName("retry_wait"), v1::TASK_STATE_RETRY_WAIT);
  EXPECT_EQ(ParseTaskStateName("unspecified"), std::nullopt);
  EXPECT_EQ(ParseTaskStateName("runing"), std::nullopt);
  EXPECT_EQ(ParseBatchStateName("retry_wait"), std::nullopt);  // a task state
}

}  // namespace
}  // namespace batchd::client
