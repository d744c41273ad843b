// One key's limit in force: its in-flight count against max_in_flight, its token buckets (all
// taken together or none), an adaptive rate factor (multiplicative decrease on a throttled
// attempt, additive increase on successes) and a Retry-After pause. Strand only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/limits/limit_spec.h"
#include "core/limits/token_bucket.h"
#include "core/time/clock.h"

namespace batchd::core {

// How the effective rate follows throttling, in parts per million of the configured rate.
struct AdaptiveOptions {
  int64_t decrease = kFullRate / 2;  // a throttled attempt multiplies the factor by this...
  int64_t floor = kFullRate / 20;    // ...never below this
  // Each success adds this, up to kFullRate: 0.1 % of the configured rate, so a key cut to half
  // climbs back over about 500 successes -- slowly enough that a service's hidden limit is
  // probed gently (bench/limits_daemon.py http429), not overrun again within a second.
  int64_t increase = kFullRate / 1000;
};

// Why a take cannot pass now. kQueued is the table's: other tasks wait on the key before it.
enum class LimitBlock { kNone, kPaused, kConcurrency, kRate, kQueued };
absl::string_view LimitBlockName(LimitBlock block);  // "paused", "concurrency", "rate", ...

struct LimitCheck {
  LimitBlock block = LimitBlock::kNone;
  // When it may pass if nothing else is taken (pause end, refill of every rate); nullopt for
  // kConcurrency (it waits for a release) and kNone.
  std::optional<SteadyTime> at;

  bool ok() const { return block == LimitBlock::kNone; }
};

class KeyLimit {
 public:
  // `spec` is valid, or unlimited (no max_in_flight, no rates: a key kept for its in-flight
  // count or its pause only).
  KeyLimit(LimitSpec spec, SteadyTime now, AdaptiveOptions adaptive = {});

  // A take is one in-flight slot, `units` of each kUnits rate and 1 of each kRequests rate.
  LimitCheck Check(int64_t units, SteadyTime now) const;
  // All or nothing: the slot and every rate, or nothing at all.
  bool TryAcquire(int64_t units, SteadyTime now);
  // Takes without checking, for a caller that has just checked (a bucket may go into debt).
  void Take(int64_t units, SteadyTime now);
  void Release();
  // OK when a take of `units` can ever pass; INVALID_ARGUMENT with the numbers when the units
  // exceed a kUnits rate's burst.
  absl::Status CheckUnits(int64_t units) const;

  // Reconciliation: charges `delta` units (used - taken) to every kUnits rate.
  void Charge(int64_t delta, SteadyTime now);
  // Adaptive back-off. An attempt that began before the last cut saw the old rate, so its
  // outcome says nothing about the new one and is ignored: one burst of 429s from calls sent
  // together cuts once, not once per call.
  void ReportSuccess(SteadyTime attempt_started, SteadyTime now);
  // Counts the attempt; returns whether the rate was cut. A cut also empties the buckets.
  bool ReportThrottled(SteadyTime attempt_started, SteadyTime now);
  // Retry-After: nothing passes before `until` (a later pause extends, an earlier one does not
  // shorten), and the rates save nothing up meanwhile: after the pause calls resume at the
  // rate in force, not as a burst that would be refused again.
  void PauseUntil(SteadyTime until, SteadyTime now);

  // A new spec in force: the in-flight count stays, rate i keeps its available units (clamped
  // to its new burst) when it had a rate i, the factor returns to full, a pause stays.
  void Reconfigure(LimitSpec spec, SteadyTime now);
  void ClearPause() { paused_until_.reset(); }

  const LimitSpec& spec() const { return spec_; }
  bool unlimited() const { return !spec_.max_in_flight.has_value() && buckets_.empty(); }
  int64_t in_flight() const { return in_flight_; }
  std::optional<SteadyTime> paused_until() const { return paused_until_; }
  bool paused(SteadyTime now) const { return paused_until_.has_value() && now < *paused_until_; }
  int64_t rate_factor() const { return factor_; }
  int64_t throttled() const { return throttled_; }  // throttled attempts reported, cut or not
  const std::vector<TokenBucket>& buckets() const { return buckets_; }

 private:
  int64_t Cost(size_t rate, int64_t units) const;
  void SetFactor(int64_t factor, SteadyTime now);

  LimitSpec spec_;
  AdaptiveOptions adaptive_;
  std::vector<TokenBucket> buckets_;  // one per spec_.rates, same order
  int64_t in_flight_ = 0;
  int64_t factor_ = kFullRate;
  int64_t throttled_ = 0;
  SteadyTime last_cut_ = SteadyTime::min();
  std::optional<SteadyTime> paused_until_;
};

}  // namespace batchd::core
