#include "core/scheduling/retry_backoff.h"

#include <algorithm>
#include <cmath>

#include "core/model/field_violation.h"

namespace batchd::core {

RetryPolicy ResolveRetryPolicy(const RetryPolicySpec& spec) {
  RetryPolicy p;
  p.kind = spec.kind;
  p.max_retries = spec.kind == RetryKind::kNone ? 0 : spec.max_retries.value_or(kDefaultMaxRetries);
  p.initial_delay_ms = spec.initial_delay_ms.value_or(kDefaultInitialDelayMs);
  p.increment_ms = spec.increment_ms.value_or(kDefaultIncrementMs);
  p.multiplier = spec.multiplier.value_or(kDefaultMultiplier);
  p.max_delay_ms = spec.max_delay_ms;
  p.jitter = spec.jitter;
  p.retry_on_timeout = spec.retry_on_timeout;
  return p;
}

absl::Status ValidateRetryPolicy(const RetryPolicySpec& spec, const std::string& field) {
  if (spec.multiplier.has_value() && !(std::isfinite(*spec.multiplier) && *spec.multiplier >= 0)) {
    return InvalidField(field + ".multiplier", "Retry multiplier must be a finite number >= 0");
  }
  return absl::OkStatus();
}

uint64_t BaseRetryDelayMs(const RetryPolicy& policy, uint32_t retry) {
  double delay = 0;
  switch (policy.kind) {
    case RetryKind::kNone:
      return 0;
    case RetryKind::kFixed:
      delay = policy.initial_delay_ms;
      break;
    case RetryKind::kLinear:
      delay = static_cast<double>(policy.initial_delay_ms) +
              static_cast<double>(policy.increment_ms) * retry;
      break;
    case RetryKind::kExponential:
      // 0 * pow(...) would be NaN once pow overflows, and NaN saturates to the cap below.
      if (policy.initial_delay_ms == 0) return 0;
      delay = policy.initial_delay_ms * std::pow(policy.multiplier, static_cast<double>(retry));
      break;
  }
  double cap = static_cast<double>(kMaxDelayMs);
  if (policy.max_delay_ms > 0) cap = std::min(cap, static_cast<double>(policy.max_delay_ms));
  if (!(delay <= cap)) delay = cap;  // also catches NaN and infinity
  if (delay < 0) delay = 0;
  return static_cast<uint64_t>(delay);
}

uint64_t ApplyJitter(Jitter jitter, uint64_t delay_ms, double unit) {
  // std::clamp passes NaN through (it compares false), and llround(NaN) is LLONG_MIN.
  unit = std::isnan(unit) ? 0.0 : std::clamp(unit, 0.0, 1.0);
  switch (jitter) {
    case Jitter::kNone:
      return delay_ms;
    case Jitter::kFull:
      return static_cast<uint64_t>(std::llround(static_cast<double>(delay_ms) * unit));
    case Jitter::kEqual: {
      double half = static_cast<double>(delay_ms) / 2;
      return static_cast<uint64_t>(std::llround(half + half * unit));
    }
  }
  return delay_ms;
}

}  // namespace batchd::core
