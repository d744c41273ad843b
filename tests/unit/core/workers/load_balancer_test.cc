#include "core/workers/load_balancer.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

BalancerCandidate Worker(uint32_t in_flight, uint32_t slots, double weight = 1.0) {
  BalancerCandidate c;
  c.in_flight = in_flight;
  c.slots = slots;
  c.weight = weight;
  return c;
}

// Picks `n` times; each pick takes a slot of the chosen worker when `hold` (otherwise the work
// is taken as done at once, so only the balancer's own state carries over).
std::vector<size_t> PickMany(LoadBalancer& balancer, LoadBalancerKind kind,
                             std::vector<BalancerCandidate>& candidates, int n, bool hold = false) {
  std::vector<size_t> picks;
  for (int i = 0; i < n; ++i) {
    std::optional<size_t> pick = balancer.Pick(kind, absl::MakeSpan(candidates));
    if (!pick.has_value()) {
      ADD_FAILURE() << "no pick at " << i;
      break;
    }
    picks.push_back(*pick);
    if (hold) ++candidates[*pick].in_flight;
  }
  return picks;
}

std::vector<int> Counts(const std::vector<size_t>& picks, size_t workers) {
  std::vector<int> counts(workers, 0);
  for (size_t p : picks) ++counts[p];
  return counts;
}

TEST(LoadBalancerTest, RoundRobinAlternatesBetweenEqualWorkers) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(0, 4), Worker(0, 4)};
  std::vector<size_t> picks =
      PickMany(balancer, LoadBalancerKind::kRoundRobin, workers, 4, /*hold=*/true);
  EXPECT_THAT(picks, ElementsAre(0, 1, 0, 1));
}

TEST(LoadBalancerTest, RoundRobinSkipsWorkersWithoutFreeSlot) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(0, 5), Worker(2, 2), Worker(0, 5)};
  EXPECT_THAT(PickMany(balancer, LoadBalancerKind::kRoundRobin, workers, 4),
              ElementsAre(0, 2, 0, 2));
}

TEST(LoadBalancerTest, WeightedThreeToOneGivesExactShareSmoothly) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(0, 1, 3.0), Worker(0, 1, 1.0)};
  std::vector<size_t> picks = PickMany(balancer, LoadBalancerKind::kWeighted, workers, 400);
  EXPECT_THAT(Counts(picks, 2), ElementsAre(300, 100));
  // Smooth: every run of 4 consecutive picks holds exactly one pick of the light worker.
  for (size_t i = 0; i + 4 <= picks.size(); ++i) {
    int light = 0;
    for (size_t k = i; k < i + 4; ++k) light += picks[k] == 1 ? 1 : 0;
    ASSERT_EQ(light, 1) << "window starting at pick " << i;
  }
}

TEST(LoadBalancerTest, WeightedOneToOneNeverPicksTheSameWorkerTwiceInARow) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(0, 1, 2.5), Worker(0, 1, 2.5)};
  std::vector<size_t> picks = PickMany(balancer, LoadBalancerKind::kWeighted, workers, 100);
  EXPECT_THAT(Counts(picks, 2), ElementsAre(50, 50));
  for (size_t i = 1; i < picks.size(); ++i) ASSERT_NE(picks[i], picks[i - 1]) << "pick " << i;
}

TEST(LoadBalancerTest, WeightedLeavesOutWorkersWithoutFreeSlot) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(1, 1, 100.0), Worker(0, 1, 1.0)};
  EXPECT_THAT(PickMany(balancer, LoadBalancerKind::kWeighted, workers, 3), ElementsAre(1, 1, 1));
}

TEST(LoadBalancerTest, LeastLoadedPrefersLowestInFlightPerSlot) {
  LoadBalancer balancer(1);
  // 1/2 busy versus 2/8 busy: the bigger worker is less loaded despite more in flight.
  std::vector<BalancerCandidate> workers = {Worker(1, 2), Worker(2, 8)};
  EXPECT_THAT(balancer.Pick(LoadBalancerKind::kLeastLoaded, absl::MakeSpan(workers)), Optional(1u));
  workers = {Worker(3, 4), Worker(1, 4), Worker(2, 4)};
  EXPECT_THAT(balancer.Pick(LoadBalancerKind::kLeastLoaded, absl::MakeSpan(workers)), Optional(1u));
}

TEST(LoadBalancerTest, LeastLoadedEqualRatioPrefersMoreFreeSlots) {
  LoadBalancer balancer(1);
  // Both half busy; the second has 2 free slots against 1.
  std::vector<BalancerCandidate> workers = {Worker(1, 2), Worker(2, 4)};
  EXPECT_THAT(balancer.Pick(LoadBalancerKind::kLeastLoaded, absl::MakeSpan(workers)), Optional(1u));
}

TEST(LoadBalancerTest, LeastLoadedTiesRotate) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(0, 4), Worker(0, 4), Worker(0, 4)};
  // Loads stay equal (work finishes at once): the tie is broken by rotation.
  EXPECT_THAT(PickMany(balancer, LoadBalancerKind::kLeastLoaded, workers, 6),
              ElementsAre(0, 1, 2, 0, 1, 2));
}

TEST(LoadBalancerTest, LeastLoadedSpreadsHeldWorkEvenly) {
  LoadBalancer balancer(1);
  std::vector<BalancerCandidate> workers = {Worker(0, 3), Worker(0, 3)};
  std::vector<size_t> picks =
      PickMany(balancer, LoadBalancerKind::kLeastLoaded, workers, 6, /*hold=*/true);
  EXPECT_THAT(Counts(picks, 2), ElementsAre(3, 3));
  EXPECT_EQ(balancer.Pick(LoadBalancerKind::kLeastLoaded, absl::MakeSpan(workers)), std::nullopt);
}

TEST(LoadBalancerTest, RandomPicksOnlyWorkersWithFreeSlotAndCoversThemAll) {
  LoadBalancer balancer(42);
  std::vector<BalancerCandidate> workers = {Worker(0, 1), Worker(1, 1), Worker(0, 1), Worker(0, 1)};
  std::vector<size_t> picks = PickMany(balancer, LoadBalancerKind::kRandom, workers, 3000);
  std::vector<int> counts = Counts(picks, 4);
  EXPECT_EQ(counts[1], 0);
  // Uniform over three: each gets roughly 1000; far from the bounds for any seed.
  for (size_t i : {0u, 2u, 3u}) {
    EXPECT_GT(counts[i], 800) << "worker " << i;
    EXPECT_LT(counts[i], 1200) << "worker " << i;
  }
}

TEST(LoadBalancerTest, RandomIsReproducibleForASeed) {
  std::vector<BalancerCandidate> workers = {Worker(0, 1), Worker(0, 1), Worker(0, 1)};
  LoadBalancer a(7);
  LoadBalancer b(7);
  EXPECT_EQ(PickMany(a, LoadBalancerKind::kRandom, workers, 50),
            PickMany(b, LoadBalancerKind::kRandom, workers, 50));
}

TEST(LoadBalancerTest, EveryKindReturnsNulloptWhenEverySlotIsBusy) {
  for (LoadBalancerKind kind : {LoadBalancerKind::kRoundRobin, LoadBalancerKind::kLeastLoaded,
                                LoadBalancerKind::kWeighted, LoadBalancerKind::kRandom}) {
    LoadBalancer balancer(3);
    std::vector<BalancerCandidate> busy = {Worker(2, 2), Worker(1, 1, 5.0)};
    EXPECT_EQ(balancer.Pick(kind, absl::MakeSpan(busy)), std::nullopt) << static_cast<int>(kind);
    // Weighted state does not drift while nothing can be picked.
    EXPECT_EQ(busy[0].current_weight, 0.0);
    EXPECT_EQ(busy[1].current_weight, 0.0);
    std::vector<BalancerCandidate> none;
    EXPECT_EQ(balancer.Pick(kind, absl::MakeSpan(none)), std::nullopt) << static_cast<int>(kind);
  }
}

}  // namespace
}  // namespace batchd::core
