// Caps open long-lived streams (StreamResults, WatchProgress, worker Connect) per client host
// and in total, so one client cannot exhaust the daemon. A Lease holds one stream's place until
// it is destroyed. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace batchd::server {

class StreamLimiter {
 public:
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

   private:
    friend class StreamLimiter;
    StreamLimiter* limiter_ = nullptr;
    std::string client_;
  };

  StreamLimiter(uint32_t max_per_client, uint32_t max_total)
      : max_per_client_(max_per_client), max_total_(max_total) {}

  // `peer` as grpc::ServerContext::peer() ("ipv4:127.0.0.1:5000", "ipv6:%5B::1%5D:5000" or
  // "ipv6:[::1]:5000", "unix:/path"). RESOURCE_EXHAUSTED naming the limit and its flag when
  // over either limit.
  absl::StatusOr<Lease> Acquire(std::string_view peer);

  // The client host of a peer string: the address without its port ("unix" for sockets).
  static std::string ClientOf(std::string_view peer);

  uint32_t open_streams() const;

 private:
  void Release(const std::string& client);

  const uint32_t max_per_client_;
  const uint32_t max_total_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint32_t> per_client_ ABSL_GUARDED_BY(mu_);
  uint32_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace batchd::server
