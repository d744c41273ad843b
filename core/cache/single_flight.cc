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

void SingleFlight::Begin(const CacheKey& key, FlightTask owner) {
  flights_.try_emplace(key, Flight{owner, {}});
}

std::vector<FlightTask> SingleFlight::Succeeded(const CacheKey& key) {
  auto it = flights_.find(key);
  if (it == flights_.end()) return {};
  std::vector<FlightTask> waiters(it->second.waiters.begin(), it->second.waiters.end());
  flights_.erase(it);
  return waiters;
}

}  // namespace batchd::core
