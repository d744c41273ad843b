// Fuzz target: retry policies (core/scheduling/retry_backoff.h) from arbitrary bytes, including
// huge and non-finite multipliers and max values. Checks validation, the delay arithmetic (caps,
// exact fixed/linear values, monotonic exponential growth or decay) and jitter bounds. No state.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "core/model/batch_spec.h"
#include "core/scheduling/retry_backoff.h"
#include "tests/fuzz/fuzz_check.h"

namespace batchd::core {
namespace {

__extension__ using Uint128 = unsigned __int128;  // exact linear delays; gcc -Wpedantic

// Edge values first so that short inputs reach them; any double after that.
double ConsumeMultiplier(FuzzedDataProvider& data) {
  constexpr double kEdges[] = {std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               std::numeric_limits<double>::max(),
                               std::numeric_limits<double>::denorm_min(),
                               std::numeric_limits<double>::epsilon(),
                               -0.0,
                               0.0,
                               0.5,
                               1.0,
                               1.0000001,
                               2.0,
                               10.0,
                               1e300,
                               -2.0};
  const size_t pick = data.ConsumeIntegralInRange<size_t>(0, std::size(kEdges));
  return pick < std::size(kEdges) ? kEdges[pick] : data.ConsumeFloatingPoint<double>();
}

uint32_t ConsumeDelayField(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange(0, 3)) {
    case 0:
      return 0;
    case 1:
      return std::numeric_limits<uint32_t>::max();
    case 2:
      return data.ConsumeIntegralInRange<uint32_t>(0, 100000);
    default:
      return data.ConsumeIntegral<uint32_t>();
  }
}

RetryPolicySpec ConsumeSpec(FuzzedDataProvider& data) {
  RetryPolicySpec spec;
  spec.kind = static_cast<RetryKind>(data.ConsumeIntegralInRange(0, 3));
  if (data.ConsumeBool()) spec.max_retries = data.ConsumeIntegral<uint32_t>();
  if (data.ConsumeBool()) spec.initial_delay_ms = ConsumeDelayField(data);
  if (data.ConsumeBool()) spec.increment_ms = ConsumeDelayField(data);
  if (data.ConsumeBool()) spec.multiplier = ConsumeMultiplier(data);
  spec.max_delay_ms = ConsumeDelayField(data);
  spec.jitter = static_cast<Jitter>(data.ConsumeIntegralInRange(0, 2));
  spec.retry_on_timeout = data.ConsumeBool();
  return spec;
}

uint64_t Cap(const RetryPolicy& policy) {
  return policy.max_delay_ms > 0 ? std::min<uint64_t>(kMaxDelayMs, policy.max_delay_ms)
                                 : kMaxDelayMs;
}

void CheckValidation(const RetryPolicySpec& spec) {
  const absl::Status status = ValidateRetryPolicy(spec, "options.retry_policy");
  const bool valid =
      !spec.multiplier.has_value() || (std::isfinite(*spec.multiplier) && *spec.multiplier >= 0);
  FUZZ_CHECK(status.ok() == valid);
  if (!valid) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StrContains(status.message(), "multiplier"));
  }
}

void CheckResolution(const RetryPolicySpec& spec, const RetryPolicy& policy) {
  FUZZ_CHECK(policy.kind == spec.kind);
  FUZZ_CHECK(policy.max_retries ==
             (spec.kind == RetryKind::kNone ? 0 : spec.max_retries.value_or(kDefaultMaxRetries)));
  FUZZ_CHECK(policy.initial_delay_ms == spec.initial_delay_ms.value_or(kDefaultInitialDelayMs));
  FUZZ_CHECK(policy.max_delay_ms == spec.max_delay_ms);
}

// The delay of one retry: within the cap, and exact where the arithmetic is exact.
void CheckDelay(const RetryPolicy& policy, uint32_t retry, bool validated) {
  const uint64_t delay = BaseRetryDelayMs(policy, retry);
  const uint64_t cap = Cap(policy);
  FUZZ_CHECK(delay <= cap);
  switch (policy.kind) {
    case RetryKind::kNone:
      FUZZ_CHECK(delay == 0);
      break;
    case RetryKind::kFixed:
      FUZZ_CHECK(delay == std::min<uint64_t>(policy.initial_delay_ms, cap));
      break;
    case RetryKind::kLinear: {
      const Uint128 exact =
          policy.initial_delay_ms + static_cast<Uint128>(policy.increment_ms) * retry;
      FUZZ_CHECK(delay == static_cast<uint64_t>(std::min<Uint128>(exact, cap)));
      break;
    }
    case RetryKind::kExponential:
      // No delay grows out of nothing, however many retries.
      if (validated && policy.initial_delay_ms == 0) FUZZ_CHECK(delay == 0);
      if (validated && retry == 0) {
        FUZZ_CHECK(delay == std::min<uint64_t>(policy.initial_delay_ms, cap));
      }
      break;
  }
}

// For a valid policy, delays never shrink as retries grow (linear, exponential with a
// multiplier >= 1) or never grow (exponential with a multiplier <= 1).
void CheckMonotonic(const RetryPolicy& policy, uint32_t a, uint32_t b) {
  if (a > b) std::swap(a, b);
  const uint64_t first = BaseRetryDelayMs(policy, a);
  const uint64_t later = BaseRetryDelayMs(policy, b);
  switch (policy.kind) {
    case RetryKind::kNone:
    case RetryKind::kFixed:
      FUZZ_CHECK(first == later);
      break;
    case RetryKind::kLinear:
      FUZZ_CHECK(first <= later);
      break;
    case RetryKind::kExponential:
      if (policy.multiplier >= 1) FUZZ_CHECK(first <= later);
      if (policy.multiplier <= 1) FUZZ_CHECK(first >= later);
      break;
  }
}

// Jitter keeps a delay within [0, delay] (full) or [delay / 2, delay] (equal), whatever `unit`
// is; the scheduler passes a uniform [0, 1) draw, and values outside clamp.
void CheckJitter(Jitter jitter, uint64_t delay, double unit) {
  const uint64_t jittered = ApplyJitter(jitter, delay, unit);
  FUZZ_CHECK(jittered <= delay);
  if (jitter == Jitter::kNone) FUZZ_CHECK(jittered == delay);
  if (jitter == Jitter::kEqual) FUZZ_CHECK(jittered >= delay / 2);
}

uint32_t ConsumeRetry(FuzzedDataProvider& data) {
  return data.ConsumeBool() ? data.ConsumeIntegralInRange<uint32_t>(0, 70)
                            : data.ConsumeIntegral<uint32_t>();
}

}  // namespace
}  // namespace batchd::core

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace batchd::core;  // NOLINT(google-build-using-namespace): fuzz entry point
  FuzzedDataProvider data(bytes, size);
  const RetryPolicySpec spec = ConsumeSpec(data);
  CheckValidation(spec);
  const bool validated = ValidateRetryPolicy(spec, "p").ok();
  RetryPolicy policy = ResolveRetryPolicy(spec);
  CheckResolution(spec, policy);
  // BaseRetryDelayMs also gets policies validation would refuse: it must still stay defined.
  const uint32_t retries[] = {
      0, 1, 2, ConsumeRetry(data), ConsumeRetry(data), std::numeric_limits<uint32_t>::max()};
  for (uint32_t retry : retries) CheckDelay(policy, retry, validated);
  if (validated) {
    for (uint32_t a : retries) {
      for (uint32_t b : retries) CheckMonotonic(policy, a, b);
    }
    for (uint32_t retry = 0; retry < 4; ++retry) CheckMonotonic(policy, retry, retry + 1);
  }
  const double unit =
      data.ConsumeBool() ? data.ConsumeProbability<double>() : ConsumeMultiplier(data);
  for (uint32_t retry : retries) {
    CheckJitter(policy.jitter, BaseRetryDelayMs(policy, retry), unit);
  }
  CheckJitter(static_cast<Jitter>(data.ConsumeIntegralInRange(0, 2)),
              data.ConsumeIntegralInRange<uint64_t>(0, kMaxDelayMs), unit);
  return 0;
}
