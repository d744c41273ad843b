// SingleFlight: waiters join a running key, success hands every waiter over in join order, a
// failure passes the flight to the first waiter still waiting, and an idle key runs.
#include "core/cache/single_flight.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;

CacheKey Key(uint8_t n) {
  CacheKey k;
  k.digest[0] = n;
  return k;
}

TEST(SingleFlightTest, WaitersJoinARunningKeyAndAllGetItsSuccess) {
  SingleFlight f;
  EXPECT_FALSE(f.Join(Key(1), {1, 0}));
  f.Begin(Key(1), {1, 0});
  EXPECT_TRUE(f.Join(Key(1), {1, 1}));
  EXPECT_TRUE(f.Join(Key(1), {2, 0}));
  EXPECT_FALSE(f.Join(Key(2), {2, 1}));  // another key runs on its own
  EXPECT_EQ(f.joins(), 2u);
  EXPECT_THAT(f.Succeeded(Key(1)), ElementsAre(FlightTask{1, 1}, FlightTask{2, 0}));
  EXPECT_FALSE(f.InFlight(Key(1)));
  EXPECT_EQ(f.flights(), 0u);
}

TEST(SingleFlightTest, AFailurePassesTheFlightToTheFirstWaiterStillWaiting) {
  SingleFlight f;
  f.Begin(Key(1), {1, 0});
  f.Join(Key(1), {1, 1});  // cancelled meanwhile
  f.Join(Key(1), {1, 2});
  f.Join(Key(1), {1, 3});
  const auto waiting = [](const FlightTask& t) { return t.task != 1; };
  EXPECT_EQ(f.Failed(Key(1), waiting), (FlightTask{1, 2}));
  EXPECT_TRUE(f.InFlight(Key(1)));
  EXPECT_THAT(f.Succeeded(Key(1)), ElementsAre(FlightTask{1, 3}));
}

TEST(SingleFlightTest, AFailureWithNobodyWaitingEndsTheFlight) {
  SingleFlight f;
  f.Begin(Key(1), {1, 0});
  f.Join(Key(1), {1, 1});
  EXPECT_EQ(f.Failed(Key(1), [](const FlightTask&) { return false; }), std::nullopt);
  EXPECT_FALSE(f.InFlight(Key(1)));
  EXPECT_FALSE(f.Join(Key(1), {1, 2}));
}

}  // namespace
}  // namespace batchd::core
