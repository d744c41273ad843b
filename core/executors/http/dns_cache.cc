#include "core/executors/http/dns_cache.h"

#include <algorithm>

namespace batchd::core {

std::optional<DnsCache::Endpoints> DnsCache::Find(absl::string_view host, uint16_t port,
                                                  Clock::time_point now) {
  if (ttl_.count() <= 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key(std::string(host), port));
  if (it == entries_.end()) return std::nullopt;
  if (now - it->second.stored >= ttl_) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.endpoints;
}

void DnsCache::Store(absl::string_view host, uint16_t port, Endpoints endpoints,
                     Clock::time_point now) {
  if (ttl_.count() <= 0 || endpoints.empty()) return;
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= max_names_ && !entries_.contains(Key(std::string(host), port))) {
    // Full: expired answers go, and if none had, the oldest.
    absl::erase_if(entries_, [&](const auto& e) { return now - e.second.stored >= ttl_; });
    if (entries_.size() >= max_names_) {
      auto oldest = std::min_element(
          entries_.begin(), entries_.end(),
          [](const auto& a, const auto& b) { return a.second.stored < b.second.stored; });
      entries_.erase(oldest);
    }
  }
  entries_[Key(std::string(host), port)] = {std::move(endpoints), now};
}

}  // namespace batchd::core
