// One HTTP/1.1 request and its response over Boost.Beast, as an asynchronous state machine on
// its own strand: resolve, connect, (for https:// the TLS handshake, verifying the server's
// certificate and name), write, read -- again from the top on a new connection for each
// redirect it follows -- then report exactly once, unless aborted first, in which case it
// reports nothing. Start and Abort may be called from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "core/executors/executor.h"
#include "core/executors/http/egress_policy.h"
#include "core/executors/http/http_request_spec.h"
#include "core/time/clock.h"

namespace batchd::core {

// Responses larger than this fail the task: outputs are kept in memory and sent to clients.
inline constexpr uint64_t kMaxHttpResponseBodyBytes = 8ull * 1024 * 1024;

class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  // Called once, on the exchange's strand, with the outcome (never after Abort).
  using Done = absl::AnyInvocable<void(ExecutionOutcome)>;

  // `tls`: the client context for https:// (tls_client_context.h); may be null for http://.
  // `egress`: where requests may go; null allows everything (tests of the exchange itself).
  HttpExchange(boost::asio::io_context& io, const Clock& clock, HttpRequestSpec spec,
               std::shared_ptr<boost::asio::ssl::context> tls,
               std::shared_ptr<const EgressPolicy> egress, Done done);

  void Start();
  // Closes the connection (or stops the DNS lookup); the outcome is dropped.
  void Abort();

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  void Resolve();
  void OnResolved(const boost::system::error_code& ec,
                  const boost::asio::ip::tcp::resolver::results_type& endpoints);
  void OnConnected(const boost::system::error_code& ec);
  void OnHandshake(const boost::system::error_code& ec);
  void Write();
  void OnWritten(const boost::system::error_code& ec);
  void OnRead(const boost::system::error_code& ec);
  // Starts over for `location`, or reports why the redirect is refused.
  void FollowRedirect(const std::string& location);
  // A fresh parser (and TLS stream) for the next exchange on a new connection.
  void ResetForNextRequest();
  // Reports a transport failure of `stage` (retryable unless the response was too large).
  void Fail(const char* stage, const boost::system::error_code& ec);
  void Finish(ExecutionOutcome outcome);
  std::string Endpoint() const;
  // The TCP stream, under TLS for https://.
  boost::beast::tcp_stream& Tcp() { return tls_stream_ ? tls_stream_->next_layer() : stream_; }

  const Clock& clock_;
  HttpRequestSpec spec_;  // the current request (changes with each redirect)
  Strand strand_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::beast::tcp_stream stream_;  // http:// only
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<const EgressPolicy> egress_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_stream_;  // https://
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
  std::chrono::steady_clock::time_point started_{};
  uint32_t redirects_ = 0;  // followed so far
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  Done done_;
  bool finished_ = false;  // reported or aborted; strand only
};

}  // namespace batchd::core
