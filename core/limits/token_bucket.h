// A token bucket refilled by exact integer arithmetic on the steady clock: no polling, no drift.
// It answers when a take will fit (for one one-shot timer) and takes charges after the fact
// (refunds, or debt that delays later takes). Not thread-safe: owned by the scheduler's strand.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/numeric/int128.h"
#include "core/time/clock.h"

namespace batchd::core {

// A rate factor in parts per million of the configured rate (adaptive back-off scales by it).
inline constexpr int64_t kFullRate = 1'000'000;

class TokenBucket {
 public:
  // `units` refill per `period` (scaled by the rate factor), up to `burst`; starts full.
  // Requires 1 <= units, burst <= kMaxLimitUnits and 0 < period <= kMaxLimitPeriod.
  TokenBucket(int64_t units, Duration period, int64_t burst, SteadyTime now);

  bool CanTake(int64_t units, SteadyTime now) const;
  // Takes `units` if they are all there; otherwise takes nothing.
  bool TryTake(int64_t units, SteadyTime now);
  // The first time at which `units` are there if nothing else is taken and the rate stays:
  // `now` when they already are; nullopt when they never fit (units > burst).
  std::optional<SteadyTime> AvailableAt(int64_t units, SteadyTime now) const;
  // Reconciliation: `delta` > 0 takes more (the level may go negative: debt delays later
  // takes); `delta` < 0 refunds, up to a full bucket.
  void Charge(int64_t delta, SteadyTime now);
  // Nothing is saved up until `when` (>= now): the level is at most 0 then (a debt stays), so
  // takes after a pause come at the refill rate, not as a burst.
  void EmptyUntil(SteadyTime when, SteadyTime now);
  // Refills at the old rate up to `now`, then at `factor` (1..kFullRate) of the configured rate.
  void SetRateFactor(int64_t factor, SteadyTime now);
  // Starts from `units` available (clamped to the burst), e.g. when a limit is reconfigured.
  void SetAvailable(double units, SteadyTime now);

  // Units there now, fractional while refilling, negative while in debt.
  double Available(SteadyTime now) const;
  int64_t units() const { return units_; }
  Duration period() const { return period_; }
  int64_t burst() const { return burst_; }
  int64_t rate_factor() const { return factor_; }
  // The refill rate in force: units per period, scaled by the rate factor.
  double EffectiveUnitsPerPeriod() const;

 private:
  // The level is kept in units x period-in-ns x kFullRate, so that one nanosecond of refill
  // adds exactly units x factor: no rounding ever accumulates.
  absl::int128 LevelAt(SteadyTime now) const;
  void Settle(SteadyTime now);

  int64_t units_;
  Duration period_;
  int64_t burst_;
  int64_t factor_ = kFullRate;
  absl::int128 per_unit_;  // one unit, scaled
  absl::int128 capacity_;  // burst, scaled
  absl::int128 level_;     // at `settled_`
  SteadyTime settled_;
};

}  // namespace batchd::core
