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

}  // namespace
}  // namespace batchd::client
