// batchd's HTTP/1.1 listener (--http-listen): the JSON API under /v1 (http_routes.h, run
// through the daemon's gRPC services in process by RpcBridge), the dashboard at / with its
// embedded assets, /metrics (Prometheus), /healthz (the process answers) and /readyz (the
// batch service is serving). Boost.Beast on two threads of its own, a strand per connection;
// keep-alive, request timeouts, body limits, a connection cap; streams as server-sent events or
// newline-delimited JSON with back-pressure. Start and destroy from one thread.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/flags/http_api_flags.h"
#include "server/http/rpc_bridge.h"

namespace batchd::server::http_api {

struct HttpListenerConfig {
  HttpApiOptions options;
  // With a token, every /v1 call must carry it (the gRPC services check it); without one, only
  // requests whose Host is an IP address or localhost are served (a DNS-rebinding guard).
  bool token_required = false;
  std::function<std::string()> metrics;  // Prometheus text; null: /metrics is 404
  std::function<bool()> ready;           // for /readyz
};

class HttpListener {
 public:
  // Binds the address (before the gRPC server starts, so a bad one fails the start early):
  // UNAVAILABLE when it cannot be bound; INVALID_ARGUMENT when it is not host:port.
  static absl::StatusOr<std::unique_ptr<HttpListener>> Bind(HttpListenerConfig config);
  // Starts serving, the API through `channel` (the daemon's own gRPC server, in process). Once.
  void Serve(std::shared_ptr<grpc::Channel> channel);
  // No new connections from now on (the first step of a shutdown); open ones go on.
  void StopAccepting();
  // Stops every connection; waits (up to 5 s) for their gRPC calls' last callbacks, which come
  // once the gRPC server has shut down.
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // host:port actually bound.
  const std::string& address() const { return address_; }

  struct Shared;  // what the connections share (config, bridge, connection count)

 private:
  explicit HttpListener(HttpListenerConfig config);
  void Accept();

  std::shared_ptr<Shared> shared_;
  boost::asio::io_context io_;
  // Keeps the threads running while calls are in flight after StopAccepting.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::string address_;
  std::vector<std::thread> threads_;
};

}  // namespace batchd::server::http_api
