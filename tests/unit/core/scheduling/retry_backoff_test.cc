#include "core/scheduling/retry_backoff.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

RetryPolicy Resolve(RetryKind kind) {
  RetryPolicySpec spec;
  spec.kind = kind;
  return ResolveRetryPolicy(spec);
}

TEST(RetryBackoffTest, DefaultsMatchTheDesign) {
  RetryPolicy p = Resolve(RetryKind::kExponential);
  EXPECT_EQ(p.max_retries, 3u);
  EXPECT_EQ(BaseRetryDelayMs(p, 0), 1000u);
  EXPECT_EQ(BaseRetryDelayMs(p, 1), 2000u);
  EXPECT_EQ(BaseRetryDelayMs(p, 2), 4000u);
  EXPECT_EQ(Resolve(RetryKind::kNone).max_retries, 0u);
}

TEST(RetryBackoffTest, FixedAndLinear) {
  EXPECT_EQ(BaseRetryDelayMs(Resolve(RetryKind::kFixed), 5), 1000u);
  RetryPolicy linear = Resolve(RetryKind::kLinear);
  EXPECT_EQ(BaseRetryDelayMs(linear, 0), 1000u);
  EXPECT_EQ(BaseRetryDelayMs(linear, 1), 1500u);
  EXPECT_EQ(BaseRetryDelayMs(linear, 4), 3000u);
}

TEST(RetryBackoffTest, CapAndSaturation) {
  RetryPolicy p = Resolve(RetryKind::kExponential);
  p.max_delay_ms = 2500;
  EXPECT_EQ(BaseRetryDelayMs(p, 1), 2000u);
  EXPECT_EQ(BaseRetryDelayMs(p, 2), 2500u);
  p.max_delay_ms = 0;
  p.multiplier = 1e300;
  EXPECT_EQ(BaseRetryDelayMs(p, 1000), kMaxDelayMs);
  p.multiplier = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(BaseRetryDelayMs(p, 3), kMaxDelayMs);
  RetryPolicy linear = Resolve(RetryKind::kLinear);
  linear.increment_ms = 0xffffffffu;
  EXPECT_EQ(BaseRetryDelayMs(linear, 0xffffffffu), kMaxDelayMs);
}

TEST(RetryBackoffTest, Jitter) {
  EXPECT_EQ(ApplyJitter(Jitter::kNone, 1000, 0.3), 1000u);
  EXPECT_EQ(ApplyJitter(Jitter::kFull, 1000, 0.0), 0u);
  EXPECT_EQ(ApplyJitter(Jitter::kFull, 1000, 0.25), 250u);
  EXPECT_EQ(ApplyJitter(Jitter::kFull, 1000, 1.0), 1000u);
  EXPECT_EQ(ApplyJitter(Jitter::kEqual, 1000, 0.0), 500u);
  EXPECT_EQ(ApplyJitter(Jitter::kEqual, 1000, 1.0), 1000u);
  EXPECT_EQ(ApplyJitter(Jitter::kEqual, 1000, 0.5), 750u);
}

// Found by tests/fuzz/retry_backoff_fuzzer.cc: a NaN unit made the delay 2^63 ms.
TEST(RetryBackoffTest, JitterKeepsTheDelayInRangeForAnyUnit) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ApplyJitter(Jitter::kFull, 1000, nan), 0u);
  EXPECT_EQ(ApplyJitter(Jitter::kEqual, 1000, nan), 500u);
  EXPECT_EQ(ApplyJitter(Jitter::kFull, 1000, inf), 1000u);
  EXPECT_EQ(ApplyJitter(Jitter::kEqual, 1000, -inf), 500u);
  EXPECT_EQ(ApplyJitter(Jitter::kFull, 1000, -0.5), 0u);
}

// Found by tests/fuzz/retry_backoff_fuzzer.cc: 0 * 2^2000 is NaN, which saturated to 30 days.
TEST(RetryBackoffTest, ExponentialFromZeroStaysZero) {
  RetryPolicy p = Resolve(RetryKind::kExponential);
  p.initial_delay_ms = 0;
  EXPECT_EQ(BaseRetryDelayMs(p, 0), 0u);
  EXPECT_EQ(BaseRetryDelayMs(p, 2000), 0u);
  p.multiplier = 1e300;
  EXPECT_EQ(BaseRetryDelayMs(p, 0xffffffffu), 0u);
}

TEST(RetryBackoffTest, InvalidMultiplierNamesTheField) {
  RetryPolicySpec spec;
  spec.multiplier = std::nan("");
  absl::Status s = ValidateRetryPolicy(spec, "options.retry_policy");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Retry multiplier must be a finite number >= 0");
  spec.multiplier = 3;
  EXPECT_TRUE(ValidateRetryPolicy(spec, "x").ok());
}

}  // namespace
}  // namespace batchd::core
