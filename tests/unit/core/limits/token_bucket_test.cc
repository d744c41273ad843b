// TokenBucket: exact refill times on the fake clock, burst bounds, refunds and debt, and rate
// factors; nothing sleeps.
#include "core/limits/token_bucket.h"

#include <chrono>

#include "core/limits/limit_spec.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

class TokenBucketTest : public ::testing::Test {
 protected:
  SteadyTime At(Duration d) const { return t0_ + d; }

  testing::FakeClock clock_;
  const SteadyTime t0_ = clock_.SteadyNow();
};

TEST_F(TokenBucketTest, StartsFullAndTakesAllOrNothing) {
  TokenBucket bucket(10, seconds(1), 10, t0_);
  EXPECT_DOUBLE_EQ(bucket.Available(t0_), 10);
  EXPECT_FALSE(bucket.TryTake(11, t0_));
  EXPECT_DOUBLE_EQ(bucket.Available(t0_), 10);
  EXPECT_TRUE(bucket.TryTake(7, t0_));
  EXPECT_FALSE(bucket.TryTake(4, t0_));
  EXPECT_TRUE(bucket.TryTake(3, t0_));
  EXPECT_DOUBLE_EQ(bucket.Available(t0_), 0);
}

TEST_F(TokenBucketTest, SaysTheExactTimeUnitsWillBeThere) {
  TokenBucket bucket(10, seconds(1), 10, t0_);
  ASSERT_TRUE(bucket.TryTake(10, t0_));
  EXPECT_EQ(bucket.AvailableAt(1, t0_), At(milliseconds(100)));
  EXPECT_EQ(bucket.AvailableAt(3, t0_), At(milliseconds(300)));
  EXPECT_EQ(bucket.AvailableAt(10, t0_), At(seconds(1)));
  EXPECT_EQ(bucket.AvailableAt(0, t0_), t0_);

  EXPECT_FALSE(bucket.TryTake(1, At(milliseconds(100) - nanoseconds(1))));
  EXPECT_TRUE(bucket.TryTake(1, At(milliseconds(100))));
  // 250 ms: 2.5 refilled, 1 taken: 1.5 left; 3 fit 150 ms later.
  EXPECT_DOUBLE_EQ(bucket.Available(At(milliseconds(250))), 1.5);
  EXPECT_EQ(bucket.AvailableAt(3, At(milliseconds(250))), At(milliseconds(400)));
}

TEST_F(TokenBucketTest, RoundsAPeriodThatDoesNotDivideUpToTheNextNanosecond) {
  TokenBucket bucket(3, seconds(1), 3, t0_);
  ASSERT_TRUE(bucket.TryTake(3, t0_));
  // One unit every 333,333,333.3 ns: the first is there at 333,333,334 ns, never before.
  EXPECT_EQ(bucket.AvailableAt(1, t0_), At(nanoseconds(333'333'334)));
  EXPECT_FALSE(bucket.CanTake(1, At(nanoseconds(333'333'333))));
  EXPECT_TRUE(bucket.CanTake(1, At(nanoseconds(333'333'334))));
  // Taking in steps loses nothing: three units exactly one second later.
  ASSERT_TRUE(bucket.TryTake(1, At(nanoseconds(333'333'334))));
  EXPECT_EQ(bucket.AvailableAt(2, At(nanoseconds(333'333'334))), At(seconds(1)));
}

TEST_F(TokenBucketTest, NeverHoldsMoreThanItsBurst) {
  TokenBucket bucket(1000, seconds(1), 100, t0_);
  ASSERT_TRUE(bucket.TryTake(100, t0_));
  EXPECT_DOUBLE_EQ(bucket.Available(At(hours(5))), 100);
  EXPECT_FALSE(bucket.TryTake(101, At(hours(5))));
  EXPECT_EQ(bucket.AvailableAt(101, At(hours(5))), std::nullopt);
  ASSERT_TRUE(bucket.TryTake(100, At(hours(5))));
  EXPECT_EQ(bucket.AvailableAt(100, At(hours(5))), At(hours(5) + milliseconds(100)));
}

TEST_F(TokenBucketTest, ARefundReturnsUnitsUpToAFullBucket) {
  TokenBucket bucket(10, seconds(1), 10, t0_);
  ASSERT_TRUE(bucket.TryTake(8, t0_));
  bucket.Charge(-5, t0_);
  EXPECT_DOUBLE_EQ(bucket.Available(t0_), 7);
  bucket.Charge(-100, t0_);
  EXPECT_DOUBLE_EQ(bucket.Available(t0_), 10);
}

TEST_F(TokenBucketTest, ADebtGoesNegativeAndDelaysTheNextTakes) {
  TokenBucket bucket(10, seconds(1), 10, t0_);
  ASSERT_TRUE(bucket.TryTake(10, t0_));
  bucket.Charge(5, At(milliseconds(200)));  // 2 refilled, 5 more used than taken
  EXPECT_DOUBLE_EQ(bucket.Available(At(milliseconds(200))), -3);
  EXPECT_EQ(bucket.AvailableAt(1, At(milliseconds(200))), At(milliseconds(600)));
  EXPECT_FALSE(bucket.TryTake(1, At(milliseconds(599))));
  EXPECT_TRUE(bucket.TryTake(1, At(milliseconds(600))));
}

TEST_F(TokenBucketTest, ARateFactorScalesTheRefillFromThatMomentOn) {
  TokenBucket bucket(10, seconds(1), 10, t0_);
  ASSERT_TRUE(bucket.TryTake(10, t0_));
  // 100 ms at the full rate (1 unit), then half: 5 per second.
  bucket.SetRateFactor(kFullRate / 2, At(milliseconds(100)));
  EXPECT_EQ(bucket.rate_factor(), 500'000);
  EXPECT_DOUBLE_EQ(bucket.EffectiveUnitsPerPeriod(), 5);
  EXPECT_DOUBLE_EQ(bucket.Available(At(milliseconds(100))), 1);
  EXPECT_EQ(bucket.AvailableAt(2, At(milliseconds(100))), At(milliseconds(300)));
  bucket.SetRateFactor(kFullRate, At(milliseconds(300)));
  EXPECT_EQ(bucket.AvailableAt(4, At(milliseconds(300))), At(milliseconds(500)));
}

TEST_F(TokenBucketTest, LongPeriodsAndLargeBurstsStayExact) {
  TokenBucket bucket(kMaxLimitUnits, hours(24 * 366), kMaxLimitUnits, t0_);
  ASSERT_TRUE(bucket.TryTake(kMaxLimitUnits, t0_));
  EXPECT_EQ(bucket.AvailableAt(kMaxLimitUnits, t0_), At(hours(24 * 366)));
  EXPECT_DOUBLE_EQ(bucket.Available(At(hours(24 * 183))), static_cast<double>(kMaxLimitUnits / 2));
}

}  // namespace
}  // namespace batchd::core
