// The attempts running for a cache key, and the tasks waiting for them (in any batch): while a
// key is in flight a task with the same key joins it instead of running; when the attempt
// succeeds every waiter finishes with its output, when it fails the flight passes to the first
// waiter, which runs. Waiters that stop waiting (cancelled) are not removed here: the owner of
// the table skips them when the flight ends. Strand only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/cache/cache_key.h"

namespace batchd::core {

struct FlightTask {
  uint64_t batch = 0;  // the batch's sequence number
  uint32_t task = 0;

  bool operator==(const FlightTask&) const = default;
};

class SingleFlight {
 public:
  // Whether an attempt for `key` runs; when it does, `waiter` waits for it.
  bool Join(const CacheKey& key, FlightTask waiter);
  // Join, or when nothing runs for `key`, Begin with `task` as the owner: whether it joined.
  bool JoinOrBegin(const CacheKey& key, FlightTask task);
  // `owner` runs the attempt for `key`, which must not be in flight.
  void Begin(const CacheKey& key, FlightTask owner);
  bool InFlight(const CacheKey& key) const { return flights_.contains(key); }
  // The task running the attempt for `key`; none when it is not in flight.
  std::optional<FlightTask> Owner(const CacheKey& key) const {
    auto it = flights_.find(key);
    if (it == flights_.end()) return std::nullopt;
    return it->second.owner;
  }
  // The attempt succeeded: the flight ends; its waiters, in the order they joined.
  std::vector<FlightTask> Succeeded(const CacheKey& key);
  // As Succeeded, only when `owner` owns the flight (true); false, changing nothing, otherwise.
  bool SucceededIfOwner(const CacheKey& key, FlightTask owner, std::vector<FlightTask>* waiters);
  // The attempt ended without a result: the first waiter `still_waiting` accepts becomes the
  // owner (returned) and the others keep waiting; without one the flight ends.
  template <typename Pred>
  std::optional<FlightTask> Failed(const CacheKey& key, Pred still_waiting);

  size_t flights() const { return flights_.size(); }
  uint64_t joins() const { return joins_; }

 private:
  struct Flight {
    FlightTask owner;
    std::vector<FlightTask> waiters;  // from `next` on (a vector: no allocation until a join)
    size_t next = 0;
  };
  absl::flat_hash_map<CacheKey, Flight> flights_;
  uint64_t joins_ = 0;
};

template <typename Pred>
std::optional<FlightTask> SingleFlight::Failed(const CacheKey& key, Pred still_waiting) {
  auto it = flights_.find(key);
  if (it == flights_.end()) return std::nullopt;
  Flight& flight = it->second;
  while (flight.next < flight.waiters.size()) {
    const FlightTask next = flight.waiters[flight.next++];
    if (still_waiting(next)) {
      flight.owner = next;
      return next;
    }
  }
  flights_.erase(it);
  return std::nullopt;
}

}  // namespace batchd::core
