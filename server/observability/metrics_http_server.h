// A minimal HTTP/1.1 endpoint for Prometheus scrapes: GET /metrics answers the text the
// `render` callback returns; other paths 404, other methods 405. Boost.Beast on its own thread
// and io_context, one request per connection, 10 s I/O timeout. Start/destroy from one thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace batchd::server {

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;

  // `listen` is host:port (port 0 = any free port). UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen,
                                                                  Render render);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // host:port actually bound.
  const std::string& address() const { return address_; }

 private:
  explicit MetricsHttpServer(Render render);
  void Accept();

  Render render_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::string address_;
  std::thread thread_;
};

}  // namespace batchd::server
