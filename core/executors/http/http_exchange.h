// One HTTP/1.1 request and its response over Boost.Beast, as an asynchronous state machine: the
// egress check, a connection from the pool (connection_pool.h) -- an idle one kept alive, or a
// new one: DNS lookup (cached, bounded by its own timeout), connect, a CONNECT tunnel when an
// https:// proxy applies, the TLS handshake verifying the server's certificate and name --
// then write and read, again from the pool for each redirect followed. Everything after the
// pool runs on the connection's strand. A broken kept-alive connection is retried once on a
// new one when nothing was answered and the request is idempotent or was not sent. Reports
// exactly once, unless aborted first, in which case it reports nothing. Start and Abort may be
// called from any thread; Start once.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "core/executors/executor.h"
#include "core/executors/http/http_connection.h"
#include "core/executors/http/http_request_spec.h"
#include "core/executors/http/http_transport.h"
#include "core/time/clock.h"

namespace batchd::core {

// Responses larger than this fail the task: outputs are kept in memory and sent to clients.
inline constexpr uint64_t kMaxHttpResponseBodyBytes = 8ull * 1024 * 1024;

class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  // Called once with the outcome (never after Abort), on the thread that finished the request.
  using Done = absl::AnyInvocable<void(ExecutionOutcome)>;

  HttpExchange(const Clock& clock, HttpRequestSpec spec, std::shared_ptr<HttpTransport> transport,
               Done done);

  void Start();
  // Stops the request (closing its connection, or leaving the pool's queue); the outcome is
  // dropped.
  void Abort();

 private:
  using Endpoints = DnsCache::Endpoints;

  // For the current spec: the egress check of the host, the proxy, and a connection.
  void Begin();
  void Acquire(bool fresh);
  void OnAcquired(std::shared_ptr<HttpConnection> connection, bool reused);  // any thread
  void Adopt(std::shared_ptr<HttpConnection> connection, bool reused);
  void Resolve();
  void OnResolved(const boost::system::error_code& ec,
                  const boost::asio::ip::tcp::resolver::results_type& results);
  void Connect(const Endpoints& endpoints);
  void OnConnected(const boost::system::error_code& ec);
  void WriteConnect();
  void OnConnectAnswer(const boost::system::error_code& ec);
  void Handshake();
  void OnHandshake(const boost::system::error_code& ec);
  void Write();
  void OnWritten(const boost::system::error_code& ec, size_t bytes);
  void OnRead(const boost::system::error_code& ec);
  // Starts over for `location`, or reports why the redirect is refused.
  void FollowRedirect(const std::string& location);
  // The request and a fresh parser for the current spec.
  void ResetForNextRequest();
  // Gives the connection back to the pool (`keep`: it can carry another request); idempotent.
  void Release(bool keep);
  // True when `ec` broke a kept-alive connection before any answer and the request may be sent
  // again: it is, once, on a new connection.
  bool RetriedOnNewConnection(const boost::system::error_code& ec);
  // Reports a transport failure of `stage` (retryable unless the response was too large).
  void Fail(const char* stage, const boost::system::error_code& ec);
  void Finish(ExecutionOutcome outcome);
  std::string Endpoint() const;
  ConnectionKey Key() const;

  const Clock& clock_;
  HttpRequestSpec spec_;  // the current request (changes with each redirect)
  const std::shared_ptr<HttpTransport> transport_;
  const HttpProxy* proxy_ = nullptr;  // the current request's (transport_ owns it)
  Done done_;
  std::atomic<bool> aborted_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> start_called_{false};

  // What Abort reaches: the connection in use, or the place in the pool's queue.
  absl::Mutex mu_;
  std::shared_ptr<HttpConnection> current_ ABSL_GUARDED_BY(mu_);
  uint64_t ticket_ ABSL_GUARDED_BY(mu_) = 0;

  // On the connection's strand, from Adopt to Release.
  std::shared_ptr<HttpConnection> connection_;
  bool reused_ = false;   // it served requests before this one
  bool retried_ = false;  // the one retry on a new connection is spent
  size_t written_ = 0;    // bytes of the request written
  bool resolving_ = false;
  std::optional<boost::asio::ip::tcp::resolver> resolver_;
  std::optional<boost::asio::steady_timer> dns_timer_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::request<boost::beast::http::empty_body> connect_request_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::empty_body>>
      connect_parser_;
  std::chrono::steady_clock::time_point started_{};
  uint32_t redirects_ = 0;  // followed so far
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace batchd::core
