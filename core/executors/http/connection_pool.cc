#include "core/executors/http/connection_pool.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

namespace batchd::core {

ConnectionPool::ConnectionPool(boost::asio::io_context& io,
                               std::shared_ptr<boost::asio::ssl::context> tls,
                               ConnectionPoolOptions options)
    : io_(io),
      tls_(std::move(tls)),
      options_(options),
      sweep_strand_(boost::asio::make_strand(io)),
      sweep_timer_(sweep_strand_) {}

uint64_t ConnectionPool::Acquire(const ConnectionKey& key, bool fresh, Ready ready) {
  Handoff handoff;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<HttpConnection> connection;
    // Behind earlier requests for the same key: first come, first served.
    const bool queued_before = std::any_of(waiters_.begin(), waiters_.end(),
                                           [&](const Waiter& w) { return w.key == key; });
    if (!queued_before) {
      if (!fresh) {
        auto it = keys_.find(key);
        if (it != keys_.end()) connection = TakeIdle(it->second);
      }
      if (connection != nullptr) {
        ++reused_;
        handoff = {std::move(ready), std::move(connection), true};
      } else if ((connection = OpenNew(key)) != nullptr) {
        handoff = {std::move(ready), std::move(connection), false};
      }
    }
    if (handoff.connection == nullptr) {
      const uint64_t ticket = next_ticket_++;
      waiters_.push_back({ticket, key, fresh, std::move(ready)});
      return ticket;
    }
  }
  handoff.ready(std::move(handoff.connection), handoff.reused);
  return 0;
}

bool ConnectionPool::CancelWait(uint64_t ticket) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [&](const Waiter& w) { return w.ticket == ticket; });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  return true;
}

void ConnectionPool::Release(std::shared_ptr<HttpConnection> connection, bool keep) {
  keep = keep && keeps_alive() && connection->connected();
  if (!keep) connection->Close();
  std::vector<Handoff> handoffs;
  {
    absl::MutexLock lock(&mu_);
    if (keep) {
      PerKey& per_key = keys_[connection->key()];
      connection->idle_since = Clock::now();
      per_key.idle.push_back(std::move(connection));
      ++idle_;
      ArmSweep();
    } else {
      Forget(connection);
    }
    ServeWaiters(handoffs);
  }
  for (Handoff& h : handoffs) h.ready(std::move(h.connection), h.reused);
}

ConnectionPoolStats ConnectionPool::stats() const {
  absl::MutexLock lock(&mu_);
  return {opened_, reused_, open_, idle_, waiters_.size()};
}

std::shared_ptr<HttpConnection> ConnectionPool::TakeIdle(PerKey& per_key) {
  const Clock::time_point now = Clock::now();
  while (!per_key.idle.empty()) {
    std::shared_ptr<HttpConnection> connection = std::move(per_key.idle.back());
    per_key.idle.pop_back();
    --idle_;
    if (now - connection->idle_since < options_.idle_timeout &&
        !connection->PeerClosedOrSentData()) {
      return connection;
    }
    // Kept too long, or the server closed it: a request on it would fail.
    --per_key.open;
    --open_;
    CloseLater(std::move(connection));
  }
  return nullptr;
}

std::shared_ptr<HttpConnection> ConnectionPool::OpenNew(const ConnectionKey& key) {
  PerKey& per_key = keys_[key];
  if (per_key.open >= options_.max_per_host) {
    // Only a request that refuses idle connections gets here with some idle: make room.
    if (per_key.idle.empty()) return nullptr;
    --per_key.open;
    --open_;
    --idle_;
    CloseLater(std::move(per_key.idle.front()));
    per_key.idle.erase(per_key.idle.begin());
  }
  if (open_ >= options_.max_total) {
    // The oldest idle connection of any key makes room.
    PerKey* oldest = nullptr;
    for (auto& [k, other] : keys_) {
      if (!other.idle.empty() && (oldest == nullptr || other.idle.front()->idle_since <
                                                           oldest->idle.front()->idle_since)) {
        oldest = &other;
      }
    }
    if (oldest == nullptr) return nullptr;
    --oldest->open;
    --open_;
    --idle_;
    CloseLater(std::move(oldest->idle.front()));
    oldest->idle.erase(oldest->idle.begin());
  }
  ++per_key.open;
  ++open_;
  ++opened_;
  return std::make_shared<HttpConnection>(io_, key, tls_.get());
}

void ConnectionPool::ServeWaiters(std::vector<Handoff>& out) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    std::shared_ptr<HttpConnection> connection;
    bool reused = false;
    if (!it->fresh) {
      auto found = keys_.find(it->key);
      if (found != keys_.end() && (connection = TakeIdle(found->second)) != nullptr) {
        reused = true;
        ++reused_;
      }
    }
    if (connection == nullptr) connection = OpenNew(it->key);
    if (connection == nullptr) {
      ++it;
      continue;
    }
    out.push_back({std::move(it->ready), std::move(connection), reused});
    it = waiters_.erase(it);
  }
}

void ConnectionPool::Forget(const std::shared_ptr<HttpConnection>& connection) {
  auto it = keys_.find(connection->key());
  if (it == keys_.end()) return;
  --it->second.open;
  --open_;
  if (it->second.open == 0) keys_.erase(it);
}

void ConnectionPool::CloseLater(std::shared_ptr<HttpConnection> connection) {
  const HttpConnection::Strand strand = connection->strand();
  boost::asio::post(strand, [connection = std::move(connection)] { connection->Close(); });
}

void ConnectionPool::ArmSweep() {
  if (sweep_armed_) return;
  sweep_armed_ = true;
  boost::asio::post(sweep_strand_, [weak = weak_from_this()] {
    std::shared_ptr<ConnectionPool> self = weak.lock();
    if (self == nullptr) return;
    self->sweep_timer_.expires_after(self->options_.idle_timeout);
    self->sweep_timer_.async_wait([weak](const boost::system::error_code& ec) {
      std::shared_ptr<ConnectionPool> pool = weak.lock();
      if (!ec && pool != nullptr) pool->Sweep();
    });
  });
}

void ConnectionPool::Sweep() {
  absl::MutexLock lock(&mu_);
  const Clock::time_point now = Clock::now();
  Clock::time_point next = Clock::time_point::max();
  for (auto it = keys_.begin(); it != keys_.end();) {
    PerKey& per_key = it->second;
    auto expired = std::stable_partition(
        per_key.idle.begin(), per_key.idle.end(),
        [&](const auto& c) { return now - c->idle_since < options_.idle_timeout; });
    for (auto e = expired; e != per_key.idle.end(); ++e) {
      --per_key.open;
      --open_;
      --idle_;
      CloseLater(std::move(*e));
    }
    per_key.idle.erase(expired, per_key.idle.end());
    for (const auto& c : per_key.idle) next = std::min(next, c->idle_since);
    if (per_key.open == 0) {
      keys_.erase(it++);
    } else {
      ++it;
    }
  }
  if (idle_ == 0) {
    sweep_armed_ = false;
    return;
  }
  // On the sweep strand already: the next sweep is when the oldest idle connection expires.
  sweep_timer_.expires_at(next + options_.idle_timeout);
  sweep_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    std::shared_ptr<ConnectionPool> pool = weak.lock();
    if (!ec && pool != nullptr) pool->Sweep();
  });
}

}  // namespace batchd::core
