// RunnableRing: batches that can start a task, round robin, each at most once.
#include "core/scheduling/runnable_ring.h"

#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using testing::ManualTask;

class RunnableRingTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
  RunnableRing ring_;
};

TEST_F(RunnableRingTest, BatchesComeInTheOrderTheyWereAdded) {
  auto b1 = batches_.Make(1);
  auto b2 = batches_.Make(2);
  ring_.Add(b1);
  ring_.Add(b2);
  EXPECT_EQ(ring_.size(), 2u);
  EXPECT_EQ(ring_.Next(), b1);
  EXPECT_EQ(ring_.Next(), b2);
  EXPECT_EQ(ring_.Next(), nullptr);
  EXPECT_EQ(ring_.size(), 0u);
}

TEST_F(RunnableRingTest, ABatchIsQueuedOnceUntilItsTurnComes) {
  auto b1 = batches_.Make(1, {ManualTask("a"), ManualTask("b")});
  ring_.Add(b1);
  ring_.Add(b1);
  EXPECT_EQ(ring_.size(), 1u);
  EXPECT_TRUE(b1->in_runnable_ring);
  EXPECT_EQ(ring_.Next(), b1);
  EXPECT_FALSE(b1->in_runnable_ring);
  ring_.Add(b1);  // back of the ring after its turn
  EXPECT_EQ(ring_.size(), 1u);
  EXPECT_EQ(ring_.Next(), b1);
}

TEST_F(RunnableRingTest, ABatchThatCannotStartIsNotQueued) {
  auto done = batches_.Make(1);
  batches_.RunToEnd(*done);
  auto waiting = batches_.Make(2, {ManualTask("a")});
  waiting->PopReady();  // its only task left the ready queue
  ring_.Add(done);
  ring_.Add(waiting);
  EXPECT_EQ(ring_.size(), 0u);
  EXPECT_FALSE(done->in_runnable_ring);
  EXPECT_EQ(ring_.Next(), nullptr);
}

TEST_F(RunnableRingTest, NextDropsBatchesThatCanNoLongerStart) {
  auto b1 = batches_.Make(1);
  auto b2 = batches_.Make(2);
  auto b3 = batches_.Make(3);
  ring_.Add(b1);
  ring_.Add(b2);
  ring_.Add(b3);
  b1->MarkCancelled("stop");  // clears its ready queue
  b2->MarkCancelled("stop");
  EXPECT_EQ(ring_.Next(), b3);
  EXPECT_EQ(ring_.size(), 0u);
  EXPECT_FALSE(b1->in_runnable_ring);
  EXPECT_FALSE(b2->in_runnable_ring);
}

}  // namespace
}  // namespace batchd::core
