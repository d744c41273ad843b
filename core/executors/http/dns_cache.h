// Recent DNS answers of the http executor, kept for a short TTL so a burst of requests to one
// API does one lookup, not one per connection. The answer is the resolver's (the system's,
// getaddrinfo): the TTL is this cache's, not the record's. Bounded; thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace batchd::core {

class DnsCache {
 public:
  using Endpoints = std::vector<boost::asio::ip::tcp::endpoint>;
  using Clock = std::chrono::steady_clock;

  // `ttl` 0 keeps nothing. At most `max_names` answers are kept (the oldest goes first).
  explicit DnsCache(std::chrono::milliseconds ttl, size_t max_names = 1024)
      : ttl_(ttl), max_names_(max_names) {}

  // The answer for `host`:`port` stored less than the TTL before `now`.
  std::optional<Endpoints> Find(absl::string_view host, uint16_t port, Clock::time_point now)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Store(absl::string_view host, uint16_t port, Endpoints endpoints, Clock::time_point now)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    Endpoints endpoints;
    Clock::time_point stored;
  };
  using Key = std::pair<std::string, uint16_t>;

  const std::chrono::milliseconds ttl_;
  const size_t max_names_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::core
