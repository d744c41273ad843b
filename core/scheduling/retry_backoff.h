// Retry policy with defaults resolved, and the pure delay arithmetic of backoff.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "core/model/batch_spec.h"

namespace batchd::core {

inline constexpr uint32_t kDefaultMaxRetries = 3;
inline constexpr uint32_t kDefaultInitialDelayMs = 1000;
inline constexpr uint32_t kDefaultIncrementMs = 500;
inline constexpr double kDefaultMultiplier = 2.0;

struct RetryPolicy {
  RetryKind kind = kDefaultRetryKind;
  uint32_t max_retries = kDefaultMaxRetries;  // 0 when kind is kNone
  uint32_t initial_delay_ms = kDefaultInitialDelayMs;
  uint32_t increment_ms = kDefaultIncrementMs;
  double multiplier = kDefaultMultiplier;
  uint32_t max_delay_ms = 0;  // 0 = no cap
  Jitter jitter = Jitter::kNone;
  bool retry_on_timeout = false;

  bool operator==(const RetryPolicy&) const = default;
};

// Applies the defaults; kNone means one attempt.
RetryPolicy ResolveRetryPolicy(const RetryPolicySpec& spec);

// INVALID_ARGUMENT naming `field` (e.g. "options.retry_policy.multiplier") when the spec
// cannot be used: a multiplier that is NaN, infinite or negative.
absl::Status ValidateRetryPolicy(const RetryPolicySpec& spec, const std::string& field);

// Delay in ms before retry `retry` (0 = the first retry), before jitter, capped by max_delay_ms
// and saturating at kMaxDelayMs rather than overflowing.
uint64_t BaseRetryDelayMs(const RetryPolicy& policy, uint32_t retry);

// Applies the policy's jitter to `delay_ms` given `unit` uniform in [0, 1].
uint64_t ApplyJitter(Jitter jitter, uint64_t delay_ms, double unit);

inline constexpr uint64_t kMaxDelayMs = 30ull * 24 * 3600 * 1000;  // 30 days

}  // namespace batchd::core
