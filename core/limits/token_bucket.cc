#include "core/limits/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace batchd::core {
namespace {

// a > 0, b > 0. Most deficits fit in 64 bits, where division is a single instruction rather
// than the 128-bit library call.
absl::int128 CeilDiv(absl::int128 a, int64_t b) {
  if (absl::Int128High64(a) == 0) {
    const uint64_t low = absl::Int128Low64(a);
    const uint64_t d = static_cast<uint64_t>(b);
    return absl::int128(low / d + (low % d != 0 ? 1 : 0));
  }
  return (a + b - 1) / b;
}

}  // namespace

TokenBucket::TokenBucket(int64_t units, Duration period, int64_t burst, SteadyTime now)
    : units_(units),
      period_(period),
      burst_(burst),
      per_unit_(absl::int128(std::chrono::nanoseconds(period).count()) * kFullRate),
      capacity_(per_unit_ * burst),
      level_(capacity_),
      settled_(now) {}

absl::int128 TokenBucket::LevelAt(SteadyTime now) const {
  if (now <= settled_ || level_ >= capacity_) return level_;
  const int64_t elapsed_ns = std::chrono::nanoseconds(now - settled_).count();
  // elapsed_ns < 2^63 and units x factor < 2^60: the product fits in 123 bits.
  const absl::int128 refilled = level_ + absl::int128(elapsed_ns) * (units_ * factor_);
  return std::min(refilled, capacity_);
}

void TokenBucket::Settle(SteadyTime now) {
  level_ = LevelAt(now);
  settled_ = std::max(settled_, now);
}

bool TokenBucket::CanTake(int64_t units, SteadyTime now) const {
  return LevelAt(now) >= per_unit_ * units;
}

bool TokenBucket::TryTake(int64_t units, SteadyTime now) {
  Settle(now);
  const absl::int128 need = per_unit_ * units;
  if (level_ < need) return false;
  level_ -= need;
  return true;
}

std::optional<SteadyTime> TokenBucket::AvailableAt(int64_t units, SteadyTime now) const {
  if (units > burst_) return std::nullopt;
  const absl::int128 deficit = per_unit_ * units - LevelAt(now);
  if (deficit <= 0) return now;
  const absl::int128 wait_ns = CeilDiv(deficit, units_ * factor_);
  const absl::int128 room = std::chrono::nanoseconds(SteadyTime::max() - now).count();
  if (wait_ns > room) return SteadyTime::max();
  return now + std::chrono::nanoseconds(static_cast<int64_t>(wait_ns));
}

void TokenBucket::Charge(int64_t delta, SteadyTime now) {
  Settle(now);
  level_ = std::min(level_ - per_unit_ * delta, capacity_);
}

void TokenBucket::EmptyUntil(SteadyTime when, SteadyTime now) {
  Settle(now);
  const int64_t ahead_ns = when > now ? std::chrono::nanoseconds(when - now).count() : 0;
  // ahead_ns < 2^63 and units x factor < 2^60: the product fits in 123 bits.
  level_ = std::min(level_, -absl::int128(ahead_ns) * (units_ * factor_));
}

void TokenBucket::SetRateFactor(int64_t factor, SteadyTime now) {
  Settle(now);
  factor_ = std::clamp<int64_t>(factor, 1, kFullRate);
}

void TokenBucket::SetAvailable(double units, SteadyTime now) {
  Settle(now);
  const double scaled = std::round(units * static_cast<double>(per_unit_));
  level_ = std::min(absl::int128(scaled), capacity_);
}

double TokenBucket::Available(SteadyTime now) const {
  const absl::int128 level = LevelAt(now);
  // Whole units exactly, then the remainder as a fraction.
  const absl::int128 whole = level / per_unit_;
  const absl::int128 rest = level % per_unit_;
  return static_cast<double>(whole) + static_cast<double>(rest) / static_cast<double>(per_unit_);
}

double TokenBucket::EffectiveUnitsPerPeriod() const {
  return static_cast<double>(units_) * static_cast<double>(factor_) / kFullRate;
}

}  // namespace batchd::core
