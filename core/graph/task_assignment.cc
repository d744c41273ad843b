#include "core/graph/task_assignment.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <queue>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/field_violation.h"

namespace batchd::core {
namespace {

// A preview allocates one list per worker: bound it so a request cannot ask for gigabytes.
constexpr uint32_t kMaxWorkers = 100000;

using Assignment = std::vector<std::vector<uint32_t>>;

// Task indices, stably sorted by `key` descending. NaN keys sort last (as the lowest) so the
// comparison stays a strict weak order.
template <typename Key>
std::vector<uint32_t> IndicesByDescendingKey(absl::Span<const TaskSpec> tasks, Key key) {
  std::vector<uint32_t> order(tasks.size());
  std::iota(order.begin(), order.end(), 0U);
  auto rank = [&](uint32_t i) {
    const double k = key(tasks[i]);
    return std::isnan(k) ? -std::numeric_limits<double>::infinity() : k;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return rank(a) > rank(b); });
  return order;
}

Assignment RoundRobin(absl::Span<const TaskSpec> tasks, uint32_t workers) {
  Assignment out(workers);
  for (auto& list : out) list.reserve(tasks.size() / workers + 1);
  for (uint32_t i = 0; i < tasks.size(); ++i) out[i % workers].push_back(i);
  return out;
}

// Every task counts one, so "fewest tasks, lowest index on ties" visits the workers in turn:
// the k-th task in priority order goes to worker k mod w.
Assignment LeastLoaded(absl::Span<const TaskSpec> tasks, uint32_t workers) {
  const std::vector<uint32_t> order =
      IndicesByDescendingKey(tasks, [](const TaskSpec& t) { return t.priority; });
  Assignment out(workers);
  for (auto& list : out) list.reserve(tasks.size() / workers + 1);
  for (size_t k = 0; k < order.size(); ++k) out[k % workers].push_back(order[k]);
  return out;
}

// Zero, negative and non-finite priorities weigh 1: every task costs something, and an
// infinite weight would make every later comparison of loads meaningless.
double WeightOf(const TaskSpec& task) {
  return std::isfinite(task.priority) && task.priority > 0.0 ? task.priority : 1.0;
}

Assignment Weighted(absl::Span<const TaskSpec> tasks, uint32_t workers) {
  const std::vector<uint32_t> order = IndicesByDescendingKey(tasks, WeightOf);
  // Min-heap of (summed weight, worker index): the lightest worker, lowest index on ties.
  using Load = std::pair<double, uint32_t>;
  std::vector<Load> initial(workers);
  for (uint32_t w = 0; w < workers; ++w) initial[w] = {0.0, w};
  std::priority_queue<Load, std::vector<Load>, std::greater<>> lightest(std::greater<>(),
                                                                        std::move(initial));
  Assignment out(workers);
  for (uint32_t task : order) {
    Load load = lightest.top();
    lightest.pop();
    out[load.second].push_back(task);
    load.first += WeightOf(tasks[task]);
    lightest.push(load);
  }
  return out;
}

// Lemire's multiply-and-reject: unbiased and, unlike std::uniform_int_distribution, the same
// sequence on every standard library, so a seed reproduces a preview anywhere.
uint32_t UniformBelow(std::mt19937_64& rng, uint32_t bound) {
  uint64_t product = (rng() >> 32) * bound;
  auto low = static_cast<uint32_t>(product);
  if (low < bound) {
    const uint32_t threshold = (0U - bound) % bound;
    while (low < threshold) {
      product = (rng() >> 32) * bound;
      low = static_cast<uint32_t>(product);
    }
  }
  return static_cast<uint32_t>(product >> 32);
}

Assignment Random(absl::Span<const TaskSpec> tasks, uint32_t workers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Assignment out(workers);
  for (uint32_t i = 0; i < tasks.size(); ++i) out[UniformBelow(rng, workers)].push_back(i);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::vector<uint32_t>>> AssignTasks(absl::Span<const TaskSpec> tasks,
                                                               uint32_t workers,
                                                               LoadBalancerKind strategy,
                                                               uint64_t seed) {
  if (workers == 0) return InvalidField("workers", "Number of workers must be greater than 0");
  if (workers > kMaxWorkers) {
    return InvalidField("workers", absl::StrCat("Number of workers must be at most ", kMaxWorkers));
  }
  if (tasks.size() >= std::numeric_limits<uint32_t>::max()) {
    return InvalidField("tasks", "Too many tasks");
  }
  switch (strategy) {
    case LoadBalancerKind::kRoundRobin:
      return RoundRobin(tasks, workers);
    case LoadBalancerKind::kLeastLoaded:
      return LeastLoaded(tasks, workers);
    case LoadBalancerKind::kWeighted:
      return Weighted(tasks, workers);
    case LoadBalancerKind::kRandom:
      return Random(tasks, workers, seed);
  }
  return InvalidField("load_balancer", "Unknown load balancer");
}

}  // namespace batchd::core
