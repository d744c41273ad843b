#include "core/workers/load_balancer.h"

namespace batchd::core {

std::optional<size_t> LoadBalancer::Pick(LoadBalancerKind kind,
                                         absl::Span<BalancerCandidate> candidates) {
  switch (kind) {
    case LoadBalancerKind::kRoundRobin:
      return RoundRobin(candidates);
    case LoadBalancerKind::kLeastLoaded:
      return LeastLoaded(candidates);
    case LoadBalancerKind::kWeighted:
      return Weighted(candidates);
    case LoadBalancerKind::kRandom:
      return Random(candidates);
  }
  return std::nullopt;
}

std::optional<size_t> LoadBalancer::RoundRobin(absl::Span<const BalancerCandidate> candidates) {
  const size_t n = candidates.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (cursor_ + k) % n;
    if (candidates[i].has_free_slot()) {
      cursor_ = i + 1;
      return i;
    }
  }
  return std::nullopt;
}

std::optional<size_t> LoadBalancer::LeastLoaded(absl::Span<const BalancerCandidate> candidates) {
  // Scan from the rotation cursor so equally loaded workers take turns.
  const size_t n = candidates.size();
  std::optional<size_t> best;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (cursor_ + k) % n;
    const BalancerCandidate& c = candidates[i];
    if (!c.has_free_slot()) continue;
    if (!best.has_value()) {
      best = i;
      continue;
    }
    const BalancerCandidate& b = candidates[*best];
    // Compare in_flight/slots without division: c.in_flight * b.slots < b.in_flight * c.slots.
    const uint64_t lhs = uint64_t{c.in_flight} * b.slots;
    const uint64_t rhs = uint64_t{b.in_flight} * c.slots;
    if (lhs < rhs || (lhs == rhs && c.slots - c.in_flight > b.slots - b.in_flight)) best = i;
  }
  if (best.has_value()) cursor_ = *best + 1;
  return best;
}

std::optional<size_t> LoadBalancer::Weighted(absl::Span<BalancerCandidate> candidates) {
  double total = 0;
  std::optional<size_t> best;
  for (size_t i = 0; i < candidates.size(); ++i) {
    BalancerCandidate& c = candidates[i];
    if (!c.has_free_slot()) continue;
    c.current_weight += c.weight;
    total += c.weight;
    if (!best.has_value() || c.current_weight > candidates[*best].current_weight) best = i;
  }
  if (best.has_value()) candidates[*best].current_weight -= total;
  return best;
}

std::optional<size_t> LoadBalancer::Random(absl::Span<const BalancerCandidate> candidates) {
  size_t free = 0;
  for (const BalancerCandidate& c : candidates) free += c.has_free_slot() ? 1 : 0;
  if (free == 0) return std::nullopt;
  size_t nth = std::uniform_int_distribution<size_t>(0, free - 1)(rng_);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].has_free_slot()) continue;
    if (nth-- == 0) return i;
  }
  return std::nullopt;
}

}  // namespace batchd::core
