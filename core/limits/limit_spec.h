// A shared limit as configured: a key, an optional concurrency bound and any number of token-
// bucket rates, all enforced together. A value type; Validate is a pure function, safe anywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/time/clock.h"

namespace batchd::core {

// What a take of a rate costs: the task's units (tokens, bytes, ...) or one per task (requests).
// "500 requests/min and 90,000 tokens/min" is a kRequests rate beside a kUnits rate.
enum class RateMeasure { kUnits, kRequests };

struct LimitRate {
  int64_t units = 0;             // refilled per period
  Duration period{};             // any positive duration: 1s, 1min, 1h, 250ms
  std::optional<int64_t> burst;  // bucket size; default `units`
  RateMeasure measure = RateMeasure::kUnits;

  int64_t Burst() const { return burst.value_or(units); }
  bool operator==(const LimitRate&) const = default;
};

// Bounds that keep every bucket's exact integer arithmetic (units x period-in-ns x rate factor)
// inside 128 bits, far above anything an API limit needs.
inline constexpr int64_t kMaxLimitUnits = int64_t{1} << 40;
inline constexpr Duration kMaxLimitPeriod = std::chrono::hours(24 * 366);
inline constexpr size_t kMaxLimitKeyBytes = 256;

struct LimitSpec {
  std::string key;  // e.g. "openai", "openai:gpt-4o", "tenant:42"
  std::optional<int64_t> max_in_flight;
  std::vector<LimitRate> rates;
  // A response header (http executor) that reports the units an attempt really used, e.g.
  // "x-usage-tokens"; empty: none. The bucket is charged the difference (refund or debt).
  std::string units_header{};

  // OK, or INVALID_ARGUMENT listing every bad field ("rates[1].period", ...) as field
  // violations; the message names the key, the field and the value.
  absl::Status Validate() const;
  bool operator==(const LimitSpec&) const = default;
};

// "1000 per 1s (burst 100)", "90000 per 1m requests" -- for errors and listings.
std::string FormatRate(const LimitRate& rate);

}  // namespace batchd::core
