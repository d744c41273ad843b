#include "server/rpc/stream_limiter.h"

#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"

namespace batchd::server {

StreamLimiter::Lease& StreamLimiter::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (limiter_ != nullptr) limiter_->Release(client_);
    limiter_ = std::exchange(other.limiter_, nullptr);
    client_ = std::move(other.client_);
  }
  return *this;
}

StreamLimiter::Lease::~Lease() {
  if (limiter_ != nullptr) limiter_->Release(client_);
}

std::string StreamLimiter::ClientOf(std::string_view peer) {
  if (peer.substr(0, 5) == "unix:") return "unix";
  const size_t scheme = peer.find(':');
  std::string_view address = scheme == std::string_view::npos ? peer : peer.substr(scheme + 1);
  // An IPv6 host is in brackets, which gRPC (since 1.48) writes percent-encoded, as URIs do:
  // "ipv6:%5B::1%5D:5000"; older forms and tests write "ipv6:[::1]:5000".
  for (const auto& [open, close] :
       {std::pair<std::string_view, std::string_view>{"[", "]"}, {"%5B", "%5D"}}) {
    if (address.substr(0, open.size()) != open) continue;
    const size_t end = address.find(close);
    return std::string(address.substr(open.size(), end == std::string_view::npos
                                                       ? address.size() - open.size()
                                                       : end - open.size()));
  }
  const size_t colon = address.rfind(':');
  return std::string(colon == std::string_view::npos ? address : address.substr(0, colon));
}

absl::StatusOr<StreamLimiter::Lease> StreamLimiter::Acquire(std::string_view peer) {
  std::string client = ClientOf(peer);
  absl::MutexLock lock(&mu_);
  if (total_ >= max_total_) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many open streams: the limit is ",
                                                     max_total_, " in total (--max-streams)"));
  }
  uint32_t& mine = per_client_[client];
  if (mine >= max_per_client_) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many open streams from ", client,
                                                     ": the limit is ", max_per_client_,
                                                     " per client (--max-streams-per-client)"));
  }
  ++mine;
  ++total_;
  Lease lease;
  lease.limiter_ = this;
  lease.client_ = std::move(client);
  return lease;
}

void StreamLimiter::Release(const std::string& client) {
  absl::MutexLock lock(&mu_);
  --total_;
  auto it = per_client_.find(client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

uint32_t StreamLimiter::open_streams() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace batchd::server
