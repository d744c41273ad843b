// Chooses which callback worker runs the next task of an executor, by the batch's
// load_balancer option, among the workers with a free slot. Keeps the rotation cursor and the
// smooth-weighted-round-robin state between picks. Not thread-safe: owned by one executor on
// the scheduler's strand.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "absl/types/span.h"
#include "core/model/batch_spec.h"

namespace batchd::core {

// One worker as the balancer sees it. `current_weight` is the balancer's state for WEIGHTED
// and belongs to the caller's per-worker record so it survives between picks.
struct BalancerCandidate {
  uint32_t in_flight = 0;
  uint32_t slots = 1;
  double weight = 1.0;
  double current_weight = 0.0;

  bool has_free_slot() const { return in_flight < slots; }
};

class LoadBalancer {
 public:
  explicit LoadBalancer(uint64_t seed = std::random_device{}()) : rng_(seed) {}

  // Index of the chosen candidate, or nullopt when none has a free slot.
  // ROUND_ROBIN: the next one with a free slot after the previous pick.
  // LEAST_LOADED: the lowest in_flight/slots (ties: most free slots, then rotation).
  // WEIGHTED: smooth weighted round robin (nginx's) over those with a free slot.
  // RANDOM: uniform over those with a free slot.
  std::optional<size_t> Pick(LoadBalancerKind kind, absl::Span<BalancerCandidate> candidates);

 private:
  std::optional<size_t> RoundRobin(absl::Span<const BalancerCandidate> candidates);
  std::optional<size_t> LeastLoaded(absl::Span<const BalancerCandidate> candidates);
  static std::optional<size_t> Weighted(absl::Span<BalancerCandidate> candidates);
  std::optional<size_t> Random(absl::Span<const BalancerCandidate> candidates);

  size_t cursor_ = 0;  // where the next rotation starts
  std::mt19937_64 rng_;
};

}  // namespace batchd::core
