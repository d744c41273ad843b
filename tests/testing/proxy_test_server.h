// A small HTTP proxy for tests of HTTP clients, on 127.0.0.1 with a port the kernel picks: CONNECT
// tunnels (to https:// origins, bytes relayed both ways) and absolute-form requests (to http://
// origins, forwarded one per connection), every request recorded. It can demand credentials
// (407 without the right Proxy-Authorization) or refuse CONNECT (403). One accept thread, one
// thread per connection, every wait bounded by the destructor, which cuts open connections.
// Public methods are thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace batchd::testing {

class ProxyTestServer {
 public:
  struct Options {
    std::string required_authorization{};  // "" accepts any request
    bool refuse_connect = false;
  };
  struct Request {
    std::string method;         // "CONNECT", "GET", ...
    std::string target;         // "127.0.0.1:443" for CONNECT, "http://host/path" otherwise
    std::string authorization;  // the Proxy-Authorization header, "" when absent
  };

  static absl::StatusOr<std::unique_ptr<ProxyTestServer>> Start(Options options);
  ProxyTestServer(const ProxyTestServer&) = delete;
  ProxyTestServer& operator=(const ProxyTestServer&) = delete;
  ~ProxyTestServer();

  uint16_t port() const { return port_; }
  std::string Url() const;  // "http://127.0.0.1:<port>"
  std::vector<Request> requests() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit ProxyTestServer(Options options) : options_(std::move(options)) {}
  void AcceptLoop();
  void Serve(boost::asio::ip::tcp::socket client);
  // Relays bytes between the two sockets until either side closes.
  void Relay(int a, int b);
  void Track(int fd, bool open) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int> open_fds_ ABSL_GUARDED_BY(mu_);
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::testing
