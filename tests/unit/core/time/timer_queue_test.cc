#include "core/time/timer_queue.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;

TEST(TimerQueueTest, PopsDueTimersInDeadlineOrderAndSkipsCancelled) {
  TimerQueue q;
  SteadyTime t0{};
  std::vector<int> fired;
  q.Add(t0 + milliseconds(30), [&] { fired.push_back(30); });
  TimerId ten = q.Add(t0 + milliseconds(10), [&] { fired.push_back(10); });
  q.Add(t0 + milliseconds(20), [&] { fired.push_back(20); });
  q.Add(t0 + milliseconds(20), [&] { fired.push_back(21); });
  q.Cancel(ten);
  EXPECT_EQ(q.NextDeadline(), t0 + milliseconds(20));
  while (auto h = q.PopDue(t0 + milliseconds(25))) (*h)();
  EXPECT_THAT(fired, ::testing::ElementsAre(20, 21));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_FALSE(q.PopDue(t0 + milliseconds(29)).has_value());
}

TEST(TimerQueueTest, CancelledEntriesDoNotAccumulate) {
  TimerQueue q;
  SteadyTime t0{};
  for (int i = 0; i < 100000; ++i) {
    TimerId id = q.Add(t0 + std::chrono::seconds(30), [] {});
    q.Cancel(id);
  }
  EXPECT_EQ(q.size(), 0u);
  EXPECT_LE(q.heap_entries(), 1025u);
  TimerId keep = q.Add(t0 + milliseconds(5), [] {});
  (void)keep;
  EXPECT_EQ(q.NextDeadline(), t0 + milliseconds(5));
}

}  // namespace
}  // namespace batchd::core
