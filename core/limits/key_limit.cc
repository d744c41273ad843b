#include "core/limits/key_limit.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace batchd::core {
namespace {

std::vector<TokenBucket> MakeBuckets(const LimitSpec& spec, SteadyTime now) {
  std::vector<TokenBucket> buckets;
  buckets.reserve(spec.rates.size());
  for (const LimitRate& r : spec.rates) buckets.emplace_back(r.units, r.period, r.Burst(), now);
  return buckets;
}

}  // namespace

absl::string_view LimitBlockName(LimitBlock block) {
  switch (block) {
    case LimitBlock::kNone:
      return "none";
    case LimitBlock::kPaused:
      return "paused";
    case LimitBlock::kConcurrency:
      return "concurrency";
    case LimitBlock::kRate:
      return "rate";
    case LimitBlock::kQueued:
      return "queued";
  }
  return "unknown";
}

KeyLimit::KeyLimit(LimitSpec spec, SteadyTime now, AdaptiveOptions adaptive)
    : spec_(std::move(spec)), adaptive_(adaptive), buckets_(MakeBuckets(spec_, now)) {}

int64_t KeyLimit::Cost(size_t rate, int64_t units) const {
  return spec_.rates[rate].measure == RateMeasure::kRequests ? 1 : units;
}

LimitCheck KeyLimit::Check(int64_t units, SteadyTime now) const {
  if (paused(now)) return {LimitBlock::kPaused, paused_until_};
  if (spec_.max_in_flight.has_value() && in_flight_ >= *spec_.max_in_flight) {
    return {LimitBlock::kConcurrency, std::nullopt};
  }
  LimitCheck check;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    std::optional<SteadyTime> at = buckets_[i].AvailableAt(Cost(i, units), now);
    if (at.has_value() && *at == now) continue;
    check.block = LimitBlock::kRate;
    // Every rate must have refilled: the latest of them (never, if one never fits).
    if (!at.has_value()) at = SteadyTime::max();
    check.at = check.at.has_value() ? std::max(*check.at, *at) : *at;
  }
  return check;
}

bool KeyLimit::TryAcquire(int64_t units, SteadyTime now) {
  if (!Check(units, now).ok()) return false;
  Take(units, now);
  return true;
}

void KeyLimit::Take(int64_t units, SteadyTime now) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i].Charge(Cost(i, units), now);
  ++in_flight_;
}

void KeyLimit::Release() {
  if (in_flight_ > 0) --in_flight_;
}

absl::Status KeyLimit::CheckUnits(int64_t units) const {
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (Cost(i, units) <= buckets_[i].burst()) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(units, " units exceed the burst ", buckets_[i].burst(), " of limit '",
                     spec_.key, "' rate ", i, " (", FormatRate(spec_.rates[i]), ")"));
  }
  return absl::OkStatus();
}

void KeyLimit::Charge(int64_t delta, SteadyTime now) {
  if (delta == 0) return;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (spec_.rates[i].measure == RateMeasure::kUnits) buckets_[i].Charge(delta, now);
  }
}

void KeyLimit::SetFactor(int64_t factor, SteadyTime now) {
  factor_ = factor;
  for (TokenBucket& b : buckets_) b.SetRateFactor(factor, now);
}

void KeyLimit::ReportSuccess(SteadyTime attempt_started, SteadyTime now) {
  if (factor_ == kFullRate || attempt_started <= last_cut_) return;
  SetFactor(std::min(kFullRate, factor_ + adaptive_.increase), now);
}

bool KeyLimit::ReportThrottled(SteadyTime attempt_started, SteadyTime now) {
  ++throttled_;
  if (buckets_.empty() || attempt_started <= last_cut_) return false;
  const int64_t cut = factor_ * adaptive_.decrease / kFullRate;  // both <= 10^6: no overflow
  SetFactor(std::max(adaptive_.floor, cut), now);
  // The service says the key is over its rate: what the buckets saved up is spent, so the
  // calls after the cut (and after any pause) come at the cut rate, not as a burst.
  for (TokenBucket& b : buckets_) b.EmptyUntil(now, now);
  last_cut_ = now;
  return true;
}

void KeyLimit::PauseUntil(SteadyTime until, SteadyTime now) {
  if (!paused_until_.has_value() || until > *paused_until_) paused_until_ = until;
  for (TokenBucket& b : buckets_) b.EmptyUntil(*paused_until_, now);
}

void KeyLimit::Reconfigure(LimitSpec spec, SteadyTime now) {
  std::vector<TokenBucket> buckets = MakeBuckets(spec, now);
  for (size_t i = 0; i < buckets.size() && i < buckets_.size(); ++i) {
    buckets[i].SetAvailable(buckets_[i].Available(now), now);
  }
  spec_ = std::move(spec);
  buckets_ = std::move(buckets);
  factor_ = kFullRate;
  last_cut_ = SteadyTime::min();
}

}  // namespace batchd::core
