// The production timer service on a real io_context and the system clock: this is the one
// component whose job is real time, so these tests wait on real (millisecond) timers. They
// assert only what holds however loaded the machine is — order, never early, cancellation,
// re-arming, coalescing — and bound every run (io_context::run_for) so a lost wake-up fails
// instead of hanging.
#include "core/time/asio_timer_service.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Far longer than any test's timers: a run that takes this long has lost a wake-up.
constexpr auto kPatience = std::chrono::seconds(30);

class AsioTimerServiceTest : public ::testing::Test {
 protected:
  // Runs the loop until no timer is pending (or kPatience passed); false on the latter.
  bool RunUntilIdle() {
    io_.restart();
    io_.run_for(kPatience);
    return io_.stopped();
  }

  // Schedules a timer `delay` from now that records `name` and when it fired.
  TimerId ScheduleNamed(AsioTimerService& timers, const std::string& name, Duration delay) {
    const SteadyTime at = clock_.SteadyNow() + delay;
    return timers.ScheduleAt(at, [this, name, at] {
      EXPECT_TRUE(strand_.running_in_this_thread()) << name;
      fired_.push_back(name);
      lateness_.push_back(clock_.SteadyNow() - at);
    });
  }

  // Schedules from the strand, as the scheduler does.
  template <typename F>
  void OnStrand(F f) {
    boost::asio::post(strand_, std::move(f));
  }

  boost::asio::io_context io_;
  AsioTimerService::Strand strand_ = boost::asio::make_strand(io_);
  SystemClock clock_;
  AsioTimerService timers_{strand_, clock_};
  std::vector<std::string> fired_;
  std::vector<Duration> lateness_;  // of each fired timer, by when it was due
};

TEST_F(AsioTimerServiceTest, FiresInDeadlineOrderOnTheStrandAndNeverEarly) {
  OnStrand([this] {
    ScheduleNamed(timers_, "30ms", milliseconds(30));
    ScheduleNamed(timers_, "10ms", milliseconds(10));
    ScheduleNamed(timers_, "20ms", milliseconds(20));
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("10ms", "20ms", "30ms"));
  for (const Duration late : lateness_) EXPECT_GE(late, Duration::zero());
}

TEST_F(AsioTimerServiceTest, ATimerAlreadyDueFiresOnTheNextTurn) {
  OnStrand([this] { ScheduleNamed(timers_, "past", -milliseconds(5)); });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("past"));
}

TEST_F(AsioTimerServiceTest, IdsAreDistinctAndNeverNoTimer) {
  std::vector<TimerId> ids;
  OnStrand([&] {
    for (int i = 0; i < 3; ++i) ids.push_back(ScheduleNamed(timers_, "t", milliseconds(1)));
  });
  ASSERT_TRUE(RunUntilIdle());
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_NE(ids[0], kNoTimer);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], ids[2]);
  EXPECT_EQ(fired_.size(), 3u);
}

TEST_F(AsioTimerServiceTest, ACancelledTimerNeverFires) {
  OnStrand([this] {
    const TimerId first = ScheduleNamed(timers_, "first", milliseconds(5));
    ScheduleNamed(timers_, "second", milliseconds(10));
    timers_.Cancel(first);
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("second"));
}

// With nothing left to wait for the service holds no work, so the loop ends.
TEST_F(AsioTimerServiceTest, CancellingEveryTimerLeavesTheLoopIdle) {
  OnStrand([this] {
    const TimerId a = ScheduleNamed(timers_, "a", milliseconds(5));
    const TimerId b = ScheduleNamed(timers_, "b", std::chrono::hours(1));
    timers_.Cancel(a);
    timers_.Cancel(b);
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, IsEmpty());
}

TEST_F(AsioTimerServiceTest, CancellingATimerThatFiredIsHarmless) {
  TimerId id = kNoTimer;
  OnStrand([&] { id = ScheduleNamed(timers_, "once", milliseconds(1)); });
  ASSERT_TRUE(RunUntilIdle());
  OnStrand([&] {
    timers_.Cancel(id);
    timers_.Cancel(id);
    ScheduleNamed(timers_, "after", milliseconds(1));
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("once", "after"));
}

// The asio timer is armed for an hour; a sooner timer must re-arm it, or it would fire only
// after kPatience.
TEST_F(AsioTimerServiceTest, ASoonerTimerReArmsTheWakeUp) {
  OnStrand([this] {
    const TimerId late = ScheduleNamed(timers_, "hour", std::chrono::hours(1));
    const SteadyTime soon = clock_.SteadyNow() + milliseconds(5);
    timers_.ScheduleAt(soon, [this, late] {
      fired_.push_back("soon");
      timers_.Cancel(late);
    });
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("soon"));
}

TEST_F(AsioTimerServiceTest, AHandlerMaySchedulePastAndFutureTimers) {
  OnStrand([this] {
    timers_.ScheduleAt(clock_.SteadyNow() + milliseconds(2), [this] {
      fired_.push_back("parent");
      ScheduleNamed(timers_, "child 5ms", milliseconds(5));
      ScheduleNamed(timers_, "child now", Duration::zero());
    });
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("parent", "child now", "child 5ms"));
}

SteadyTime RoundUp(SteadyTime t, Duration step) {
  return SteadyTime((t.time_since_epoch() + step - Duration(1)) / step * step);
}

// Timers due within one granularity step fire in one wake-up, at the step's end: the second
// runs before anything the first posted to the strand. Both deadlines lie in the same step
// whatever the clock's phase.
TEST_F(AsioTimerServiceTest, CoalescesTimersDueWithinOneGranularityStep) {
  const Duration step = milliseconds(100);
  AsioTimerService coarse(strand_, clock_, step);
  SteadyTime step_start{};
  SteadyTime fired_at{};
  OnStrand([&] {
    step_start = RoundUp(clock_.SteadyNow(), step);
    coarse.ScheduleAt(step_start + milliseconds(1), [&] {
      fired_.push_back("first");
      fired_at = clock_.SteadyNow();
      boost::asio::post(strand_, [&] { fired_.push_back("posted by first"); });
    });
    coarse.ScheduleAt(step_start + milliseconds(31), [&] { fired_.push_back("second"); });
  });
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(fired_, ElementsAre("first", "second", "posted by first"));
  EXPECT_GE(fired_at, step_start + step);
}

}  // namespace
}  // namespace batchd::core
