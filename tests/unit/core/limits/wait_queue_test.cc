// WaitQueue: higher priority first, then round-robin between batches, each batch in order.
#include "core/limits/wait_queue.h"

#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using Task = std::pair<uint64_t, uint32_t>;  // batch, waiter

std::vector<Task> ServeAll(WaitQueue& queue) {
  std::vector<Task> order;
  while (!queue.empty()) {
    order.emplace_back(queue.Front().batch, queue.Front().waiter);
    queue.PopServed();
  }
  return order;
}

TEST(WaitQueueTest, ServesHigherPriorityFirst) {
  WaitQueue queue;
  queue.Push(1.0, {1, 0, 0});
  queue.Push(5.0, {2, 0, 0});
  queue.Push(-2.0, {3, 0, 0});
  queue.Push(5.0, {1, 1, 0});
  EXPECT_EQ(queue.size(), 4u);
  EXPECT_EQ(queue.FrontPriority(), 5.0);
  EXPECT_THAT(ServeAll(queue), ElementsAre(Task{2, 0}, Task{1, 1}, Task{1, 0}, Task{3, 0}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(WaitQueueTest, TakesTurnsBetweenBatchesSoABigOneCannotStarveASmallOne) {
  WaitQueue queue;
  for (uint32_t t = 0; t < 5; ++t) queue.Push(0, {1, t, 0});
  queue.Push(0, {2, 0, 0});
  queue.Push(0, {2, 1, 0});
  queue.Push(0, {3, 0, 0});
  EXPECT_THAT(ServeAll(queue), ElementsAre(Task{1, 0}, Task{2, 0}, Task{3, 0}, Task{1, 1},
                                           Task{2, 1}, Task{1, 2}, Task{1, 3}, Task{1, 4}));
}

TEST(WaitQueueTest, ABatchThatComesBackWaitsItsTurnBehindTheOthers) {
  WaitQueue queue;
  queue.Push(0, {1, 0, 0});
  queue.Push(0, {2, 0, 0});
  queue.Push(0, {2, 1, 0});
  queue.PopServed();  // batch 1 served and gone
  queue.Push(0, {1, 1, 0});
  EXPECT_THAT(ServeAll(queue), ElementsAre(Task{2, 0}, Task{1, 1}, Task{2, 1}));
}

TEST(WaitQueueTest, SkippingTheFrontKeepsItsBatchsTurn) {
  WaitQueue queue;
  queue.Push(0, {1, 0, 0});
  queue.Push(0, {1, 1, 0});
  queue.Push(0, {2, 0, 0});
  queue.PopSkipped();  // e.g. task 1.0 now waits on another key
  EXPECT_EQ(queue.Front().waiter, 1u);
  EXPECT_EQ(queue.Front().batch, 1u);
  EXPECT_THAT(ServeAll(queue), ElementsAre(Task{1, 1}, Task{2, 0}));
}

TEST(WaitQueueTest, EraseIfDropsStaleEntriesAndKeepsTheOrder) {
  WaitQueue queue;
  for (uint32_t t = 0; t < 3; ++t) queue.Push(0, {1, t, t});
  queue.Push(0, {2, 0, 7});
  queue.Push(9, {3, 0, 8});
  queue.EraseIf([](const QueuedTask& q) { return q.ticket == 1 || q.ticket >= 7; });
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.FrontPriority(), 0.0);
  EXPECT_THAT(ServeAll(queue), ElementsAre(Task{1, 0}, Task{1, 2}));
}

}  // namespace
}  // namespace batchd::core
