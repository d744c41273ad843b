// KeyLimit: concurrency and every rate taken together or not at all, pauses, units over a
// burst, reconciliation, and adaptive back-off, exactly, on the fake clock.
#include "core/limits/key_limit.h"

#include <chrono>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

class KeyLimitTest : public ::testing::Test {
 protected:
  SteadyTime At(Duration d) const { return t0_ + d; }

  testing::FakeClock clock_;
  const SteadyTime t0_ = clock_.SteadyNow();
};

TEST_F(KeyLimitTest, BoundsTasksInFlight) {
  KeyLimit limit({"db", 2, {}}, t0_);
  EXPECT_TRUE(limit.TryAcquire(1, t0_));
  EXPECT_TRUE(limit.TryAcquire(1, t0_));
  const LimitCheck full = limit.Check(1, t0_);
  EXPECT_EQ(full.block, LimitBlock::kConcurrency);
  EXPECT_EQ(full.at, std::nullopt);  // only a release frees a slot
  EXPECT_FALSE(limit.TryAcquire(1, t0_));
  EXPECT_EQ(limit.in_flight(), 2);
  limit.Release();
  EXPECT_TRUE(limit.Check(1, t0_).ok());
  EXPECT_TRUE(limit.TryAcquire(1, t0_));
  EXPECT_EQ(limit.in_flight(), 2);
}

TEST_F(KeyLimitTest, TakesEveryRateOrNone) {
  // 5 requests and 100 tokens per second.
  KeyLimit limit(
      {"openai",
       std::nullopt,
       {{5, seconds(1), std::nullopt, RateMeasure::kRequests}, {100, seconds(1), std::nullopt}}},
      t0_);
  EXPECT_TRUE(limit.TryAcquire(60, t0_));
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(t0_), 4);
  EXPECT_DOUBLE_EQ(limit.buckets()[1].Available(t0_), 40);

  const LimitCheck tokens = limit.Check(60, t0_);
  EXPECT_EQ(tokens.block, LimitBlock::kRate);
  EXPECT_EQ(tokens.at, At(milliseconds(200)));
  EXPECT_FALSE(limit.TryAcquire(60, t0_));
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(t0_), 4);  // the request was not taken
  EXPECT_TRUE(limit.TryAcquire(60, At(milliseconds(200))));
  EXPECT_EQ(limit.in_flight(), 2);
}

TEST_F(KeyLimitTest, WaitsForTheSlowestRate) {
  KeyLimit limit(
      {"openai",
       std::nullopt,
       {{1, seconds(1), std::nullopt, RateMeasure::kRequests}, {100, seconds(1), std::nullopt}}},
      t0_);
  ASSERT_TRUE(limit.TryAcquire(100, t0_));
  // Tokens are back after 100 ms, the request after 1 s: the take waits for both.
  EXPECT_EQ(limit.Check(10, t0_).at, At(seconds(1)));
  EXPECT_EQ(limit.Check(10, At(milliseconds(999))).block, LimitBlock::kRate);
  EXPECT_TRUE(limit.TryAcquire(10, At(seconds(1))));
}

TEST_F(KeyLimitTest, APauseBlocksUntilItEndsAndOnlyALaterOneExtendsIt) {
  KeyLimit limit({"openai", 10, {{100, seconds(1), std::nullopt}}}, t0_);
  limit.PauseUntil(At(seconds(2)), t0_);
  limit.PauseUntil(At(seconds(1)), t0_);
  const LimitCheck paused = limit.Check(1, t0_);
  EXPECT_EQ(paused.block, LimitBlock::kPaused);
  EXPECT_EQ(paused.at, At(seconds(2)));
  limit.PauseUntil(At(seconds(3)), t0_);
  EXPECT_EQ(limit.Check(1, At(seconds(2))).at, At(seconds(3)));
  EXPECT_FALSE(limit.paused(At(seconds(3))));
  // Nothing was saved up during the pause: one unit comes back every 10 ms after it.
  EXPECT_FALSE(limit.TryAcquire(1, At(seconds(3))));
  EXPECT_EQ(limit.Check(1, At(seconds(3))).at, At(seconds(3) + milliseconds(10)));
  EXPECT_TRUE(limit.TryAcquire(1, At(seconds(3) + milliseconds(10))));
}

TEST_F(KeyLimitTest, AfterAPauseCallsResumeAtTheRateNotAsABurst) {
  KeyLimit limit({"api", std::nullopt, {{100, seconds(1), std::nullopt}}}, t0_);
  limit.PauseUntil(At(seconds(1)), t0_);  // the bucket is full now, and would be at 1 s
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(At(seconds(1))), 0);
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(At(milliseconds(1100))), 10);
  EXPECT_TRUE(limit.TryAcquire(10, At(milliseconds(1100))));
  EXPECT_FALSE(limit.TryAcquire(1, At(milliseconds(1100))));
}

TEST_F(KeyLimitTest, RefusesUnitsOverABurstWithTheNumbers) {
  KeyLimit limit(
      {"openai",
       std::nullopt,
       {{500, minutes(1), std::nullopt, RateMeasure::kRequests}, {90'000, minutes(1), 1000}}},
      t0_);
  EXPECT_TRUE(limit.CheckUnits(1000).ok());
  const absl::Status over = limit.CheckUnits(1200);
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      over.message(),
      "1200 units exceed the burst 1000 of limit 'openai' rate 1 (90000 per 1m (burst 1000))");
  EXPECT_EQ(limit.Check(1200, t0_).at, SteadyTime::max());  // never, were it asked
}

TEST_F(KeyLimitTest, ChargesReconciliationToUnitRatesOnly) {
  KeyLimit limit(
      {"openai",
       std::nullopt,
       {{10, seconds(1), std::nullopt, RateMeasure::kRequests}, {1000, seconds(1), std::nullopt}}},
      t0_);
  ASSERT_TRUE(limit.TryAcquire(500, t0_));
  limit.Charge(-300, t0_);  // used 200 of 500: refund
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(t0_), 9);
  EXPECT_DOUBLE_EQ(limit.buckets()[1].Available(t0_), 800);
  limit.Charge(1300, t0_);  // used 1500 more: debt of 500
  EXPECT_DOUBLE_EQ(limit.buckets()[1].Available(t0_), -500);
  EXPECT_EQ(limit.Check(1, t0_).at, At(milliseconds(501)));
}

TEST_F(KeyLimitTest, AThrottleHalvesTheRateOncePerBurstOfCalls) {
  KeyLimit limit({"openai", std::nullopt, {{10, seconds(1), std::nullopt}}}, t0_);
  EXPECT_TRUE(limit.ReportThrottled(t0_, At(seconds(1))));
  EXPECT_EQ(limit.rate_factor(), 500'000);
  EXPECT_DOUBLE_EQ(limit.buckets()[0].EffectiveUnitsPerPeriod(), 5);
  // Sent before the cut: it saw the old rate, so it cuts nothing.
  EXPECT_FALSE(limit.ReportThrottled(At(milliseconds(500)), At(seconds(1))));
  EXPECT_FALSE(limit.ReportThrottled(At(seconds(1)), At(seconds(1))));
  EXPECT_EQ(limit.rate_factor(), 500'000);
  EXPECT_TRUE(limit.ReportThrottled(At(seconds(2)), At(seconds(3))));
  EXPECT_EQ(limit.rate_factor(), 250'000);
  EXPECT_EQ(limit.throttled(), 4);
}

TEST_F(KeyLimitTest, CutsDownToTheFloorAndNoFurther) {
  KeyLimit limit({"openai", std::nullopt, {{1000, seconds(1), std::nullopt}}}, t0_);
  const int64_t expected[] = {500'000, 250'000, 125'000, 62'500, 50'000, 50'000};
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(limit.ReportThrottled(At(seconds(i)), At(seconds(i) + milliseconds(1))));
    EXPECT_EQ(limit.rate_factor(), expected[i]) << "cut " << i;
  }
  EXPECT_DOUBLE_EQ(limit.buckets()[0].EffectiveUnitsPerPeriod(), 50);
}

TEST_F(KeyLimitTest, SuccessesRaiseTheRateStepByStepBackToTheConfiguredOne) {
  KeyLimit limit({"openai", std::nullopt, {{1000, seconds(1), std::nullopt}}}, t0_,
                 AdaptiveOptions{kFullRate / 2, kFullRate / 20, kFullRate / 10});
  ASSERT_TRUE(limit.ReportThrottled(t0_, At(seconds(1))));
  limit.ReportSuccess(At(milliseconds(900)), At(seconds(2)));  // began before the cut
  EXPECT_EQ(limit.rate_factor(), 500'000);
  limit.ReportSuccess(At(seconds(1) + milliseconds(1)), At(seconds(2)));
  EXPECT_EQ(limit.rate_factor(), 600'000);
  EXPECT_DOUBLE_EQ(limit.buckets()[0].EffectiveUnitsPerPeriod(), 600);
  for (int i = 0; i < 10; ++i) limit.ReportSuccess(At(seconds(2)), At(seconds(3)));
  EXPECT_EQ(limit.rate_factor(), kFullRate);
  EXPECT_DOUBLE_EQ(limit.buckets()[0].EffectiveUnitsPerPeriod(), 1000);
}

TEST_F(KeyLimitTest, ACutRateRefillsSlower) {
  KeyLimit limit({"openai", std::nullopt, {{10, seconds(1), std::nullopt}}}, t0_);
  ASSERT_TRUE(limit.TryAcquire(10, t0_));
  // 1 unit back so far, spent by the cut; then 5 units/s.
  ASSERT_TRUE(limit.ReportThrottled(t0_, At(milliseconds(100))));
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(At(milliseconds(100))), 0);
  EXPECT_EQ(limit.Check(2, At(milliseconds(100))).at, At(milliseconds(500)));
}

TEST_F(KeyLimitTest, AConcurrencyOnlyLimitIsNotCutByAThrottle) {
  KeyLimit limit({"db", 3, {}}, t0_);
  EXPECT_FALSE(limit.ReportThrottled(t0_, At(seconds(1))));
  EXPECT_EQ(limit.rate_factor(), kFullRate);
  EXPECT_EQ(limit.throttled(), 1);
}

TEST_F(KeyLimitTest, ReconfiguringKeepsInFlightAndWhatIsSpent) {
  KeyLimit limit({"openai", 5, {{100, seconds(1), std::nullopt}}}, t0_);
  ASSERT_TRUE(limit.TryAcquire(70, t0_));
  ASSERT_TRUE(limit.ReportThrottled(t0_, At(milliseconds(1))));
  limit.Reconfigure({"openai", 1, {{20, seconds(1), std::nullopt}, {5, seconds(1), std::nullopt}}},
                    At(milliseconds(1)));
  EXPECT_EQ(limit.in_flight(), 1);
  EXPECT_EQ(limit.Check(1, At(milliseconds(1))).block, LimitBlock::kConcurrency);
  EXPECT_EQ(limit.rate_factor(), kFullRate);
  EXPECT_DOUBLE_EQ(limit.buckets()[0].Available(At(milliseconds(1))), 0);  // the cut spent it
  EXPECT_DOUBLE_EQ(limit.buckets()[1].Available(At(milliseconds(1))), 5);  // new: full
}

}  // namespace
}  // namespace batchd::core
