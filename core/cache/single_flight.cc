#include "core/cache/single_flight.h"

#include <utility>

namespace batchd::core {

bool SingleFlight::Join(const CacheKey& key, FlightTask waiter) {
  auto it = flights_.find(key);
  if (it == flights_.end()) return false;
  it->second.waiters.push_back(waiter);
  ++joins_;
  return true;
}

bool SingleFlight::JoinOrBegin(const CacheKey& key, FlightTask task) {
  auto [it, began] = flights_.try_emplace(key, Flight{task, {}});
  if (began) return false;
  it->second.waiters.push_back(task);
  ++joins_;
  return true;
}

bool SingleFlight::SucceededIfOwner(const CacheKey& key, FlightTask owner,
                                    std::vector<FlightTask>* waiters) {
  auto it = flights_.find(key);
  if (it == flights_.end() || !(it->second.owner == owner)) return false;
  Flight& flight = it->second;
  if (flight.next < flight.waiters.size()) {
    waiters->assign(flight.waiters.begin() + static_cast<std::ptrdiff_t>(flight.next),
                    flight.waiters.end());
  }
  flights_.erase(it);
  return true;
}

void SingleFlight::Begin(const CacheKey& key, FlightTask owner) {
  flights_.try_emplace(key, Flight{owner, {}});
}

std::vector<FlightTask> SingleFlight::Succeeded(const CacheKey& key) {
  auto it = flights_.find(key);
  if (it == flights_.end()) return {};
  std::vector<FlightTask> waiters = std::move(it->second.waiters);
  waiters.erase(waiters.begin(), waiters.begin() + static_cast<std::ptrdiff_t>(it->second.next));
  flights_.erase(it);
  return waiters;
}

}  // namespace batchd::core
