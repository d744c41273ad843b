// The http executor's connections, kept alive between requests: at most `max_per_host` to one
// key (scheme, host, port, proxy) and `max_total` in all, idle ones closed after
// `idle_timeout`. A request asks for a connection and is called back with an idle one of its
// key (the most recently used whose peer has not closed it), a new unconnected one, or -- when
// the bounds are reached -- the first to become free, in the order asked. Thread-safe; the
// callbacks run outside the pool's lock, on the thread that made a connection available.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "core/executors/http/http_connection.h"

namespace batchd::core {

struct ConnectionPoolOptions {
  uint32_t max_per_host = 100;  // --http-max-connections-per-host
  uint32_t max_total = 1000;    // --http-max-connections
  // --http-idle-timeout: how long an idle connection is kept; 0 keeps none (a new connection
  // per request, sent with "Connection: close").
  std::chrono::milliseconds idle_timeout{15000};
};

struct ConnectionPoolStats {
  uint64_t opened = 0;  // connections handed out new
  uint64_t reused = 0;  // requests given an idle connection
  uint64_t open = 0;    // now: in use, idle or being opened
  uint64_t idle = 0;
  uint64_t waiting = 0;  // requests waiting for the bounds
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  // `reused`: the connection served requests before (and is connected); else it is new.
  using Ready = absl::AnyInvocable<void(std::shared_ptr<HttpConnection>, bool reused)>;

  // `tls` (may be null when no https:// is configured) is given to https:// connections.
  ConnectionPool(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
                 ConnectionPoolOptions options);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  bool keeps_alive() const { return options_.idle_timeout.count() > 0; }

  // Calls `ready` (maybe before returning) with a connection for `key`; `fresh` refuses idle
  // ones. Returns a ticket for CancelWait, 0 when `ready` was already called.
  uint64_t Acquire(const ConnectionKey& key, bool fresh, Ready ready) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops a request still waiting; false when its callback was already called (or is running).
  bool CancelWait(uint64_t ticket) ABSL_LOCKS_EXCLUDED(mu_);
  // Gives back a connection, `keep`ing it for other requests when it can serve one (closes it
  // otherwise). Call on the connection's strand, with no operation pending on it.
  void Release(std::shared_ptr<HttpConnection> connection, bool keep) ABSL_LOCKS_EXCLUDED(mu_);

  ConnectionPoolStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiter {
    uint64_t ticket;
    ConnectionKey key;
    bool fresh;
    Ready ready;
  };
  struct PerKey {
    uint32_t open = 0;
    std::vector<std::shared_ptr<HttpConnection>> idle;  // most recently used last
  };
  // A connection and where it goes, decided under the lock and done outside it.
  struct Handoff {
    Ready ready;
    std::shared_ptr<HttpConnection> connection;
    bool reused = false;
  };

  // An idle connection of `per_key` fit for a request, or null (closing the unfit ones).
  std::shared_ptr<HttpConnection> TakeIdle(PerKey& per_key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new connection for `key` if the bounds allow one (evicting another key's idle connection
  // when only the total is reached), else null.
  std::shared_ptr<HttpConnection> OpenNew(const ConnectionKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands what became free to waiters, in order.
  void ServeWaiters(std::vector<Handoff>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(const std::shared_ptr<HttpConnection>& connection) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes `connection` on its strand (it is idle or unused: nothing else touches it).
  static void CloseLater(std::shared_ptr<HttpConnection> connection);
  void ArmSweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Sweep() ABSL_LOCKS_EXCLUDED(mu_);

  boost::asio::io_context& io_;
  const std::shared_ptr<boost::asio::ssl::context> tls_;
  const ConnectionPoolOptions options_;
  boost::asio::strand<boost::asio::io_context::executor_type> sweep_strand_;
  boost::asio::steady_timer sweep_timer_;  // on sweep_strand_

  mutable absl::Mutex mu_;
  absl::flat_hash_map<ConnectionKey, PerKey> keys_ ABSL_GUARDED_BY(mu_);
  std::list<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t open_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t opened_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reused_ ABSL_GUARDED_BY(mu_) = 0;
  bool sweep_armed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace batchd::core
