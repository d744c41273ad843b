#include "core/executors/http/http_exchange.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/executors/http/http_response_outcome.h"
#include "core/executors/http/tls_client_context.h"

namespace batchd::core {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;

http::request<http::string_body> BuildRequest(const HttpRequestSpec& spec) {
  http::request<http::string_body> request{http::string_to_verb(spec.method), spec.target, 11};
  request.set(http::field::host, spec.host_header);
  request.set(http::field::user_agent, "batchd");
  // One request per connection: tell the server, so it does not hold the socket for more.
  request.set(http::field::connection, "close");
  for (const auto& [name, value] : spec.headers) request.set(name, value);
  if (spec.body.has_value()) {
    request.body() = *spec.body;
    request.prepare_payload();
  }
  return request;
}

// The standard reason phrase when the code has one, else what the server sent.
std::string ReasonPhrase(const http::response<http::string_body>& response) {
  const boost::beast::string_view standard = http::obsolete_reason(response.result());
  if (standard != "<unknown-status>") return std::string(standard);
  return std::string(response.reason());
}

HttpResponseData ToResponseData(http::response<http::string_body>&& response) {
  HttpResponseData data;
  data.status = response.result_int();
  data.reason = ReasonPhrase(response);
  for (const auto& field : response) {
    data.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  data.body = std::move(response.body());
  return data;
}

}  // namespace

HttpExchange::HttpExchange(boost::asio::io_context& io, const Clock& clock, HttpRequestSpec spec,
                           std::shared_ptr<boost::asio::ssl::context> tls,
                           std::shared_ptr<const EgressPolicy> egress, Done done)
    : clock_(clock),
      spec_(std::move(spec)),
      strand_(boost::asio::make_strand(io)),
      resolver_(strand_),
      stream_(strand_),
      tls_(std::move(tls)),
      egress_(std::move(egress)),
      done_(std::move(done)) {
  ResetForNextRequest();
}

void HttpExchange::ResetForNextRequest() {
  request_ = BuildRequest(spec_);
  buffer_.clear();
  if (spec_.tls && tls_ != nullptr) {
    tls_stream_ =
        std::make_unique<boost::beast::ssl_stream<boost::beast::tcp_stream>>(strand_, *tls_);
  } else {
    tls_stream_.reset();
  }
  parser_.emplace();
  parser_->body_limit(kMaxHttpResponseBodyBytes);
  parser_->header_limit(kMaxResponseHeaderBytes);
  // A HEAD response announces a body it does not send: do not wait for it.
  parser_->skip(spec_.method == "HEAD");
}

void HttpExchange::Start() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->finished_) return;
    if (self->spec_.tls && self->tls_stream_ == nullptr) {
      return self->Finish(ExecutionOutcome::Failure("http: https:// is not configured",
                                                    /*non_retryable=*/true));
    }
    self->started_ = std::chrono::steady_clock::now();
    if (self->spec_.timeout_ms.has_value()) {
      // One deadline for the whole exchange, redirects included.
      self->deadline_ = self->started_ + std::chrono::milliseconds(*self->spec_.timeout_ms);
    }
    self->Resolve();
  });
}

void HttpExchange::Resolve() {
  if (egress_ != nullptr) {
    if (const std::string denied = egress_->CheckHost(spec_.host, spec_.port); !denied.empty()) {
      return Finish(ExecutionOutcome::Failure(absl::StrCat("http: ", denied),
                                              /*non_retryable=*/true));
    }
  }
  resolver_.async_resolve(
      spec_.host, std::to_string(spec_.port),
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  const tcp::resolver::results_type& endpoints) {
        self->OnResolved(ec, endpoints);
      });
}

void HttpExchange::Abort() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->finished_) return;
    self->finished_ = true;
    self->resolver_.cancel();
    self->Tcp().close();  // pending operations complete with operation_aborted
  });
}

void HttpExchange::OnResolved(const boost::system::error_code& ec,
                              const tcp::resolver::results_type& endpoints) {
  if (finished_) return;
  if (ec) return Fail("resolve", ec);
  if (deadline_.has_value()) {
    // The DNS lookup is not covered by the stream's timer: check what it used up.
    if (std::chrono::steady_clock::now() >= *deadline_) {
      return Fail("resolve", boost::beast::error::timeout);
    }
    Tcp().expires_at(*deadline_);  // covers connect, handshake, write and read together
  }
  // Only to addresses the egress policy allows: a name cannot lead to a denied one.
  std::vector<tcp::endpoint> allowed;
  std::string denied;
  for (const auto& entry : endpoints) {
    const std::string why =
        egress_ == nullptr
            ? ""
            : egress_->CheckAddress(spec_.host, entry.endpoint().address(), spec_.port);
    if (why.empty()) {
      allowed.push_back(entry.endpoint());
    } else if (denied.empty()) {
      denied = why;
    }
  }
  if (allowed.empty()) {
    return Finish(ExecutionOutcome::Failure(absl::StrCat("http: ", denied),
                                            /*non_retryable=*/true));
  }
  Tcp().async_connect(allowed,
                      [self = shared_from_this()](const boost::system::error_code& e,
                                                  const tcp::endpoint&) { self->OnConnected(e); });
}

void HttpExchange::OnConnected(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return Fail("connect", ec);
  if (tls_stream_ == nullptr) return Write();
  ExpectTlsPeer(tls_stream_->native_handle(), spec_.host);
  tls_stream_->async_handshake(
      boost::asio::ssl::stream_base::client,
      [self = shared_from_this()](const boost::system::error_code& e) { self->OnHandshake(e); });
}

void HttpExchange::OnHandshake(const boost::system::error_code& ec) {
  if (finished_) return;
  if (!ec) return Write();
  // What the server presented was refused, or it speaks no TLS this client accepts: asking
  // again gives the same answer.
  if (const std::string why = TlsVerifyFailure(tls_stream_->native_handle()); !why.empty()) {
    Tcp().close();
    return Finish(ExecutionOutcome::Failure(
        absl::StrCat("http: TLS: the certificate of ", Endpoint(), " is not accepted: ", why),
        /*non_retryable=*/true));
  }
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    Tcp().close();
    return Finish(ExecutionOutcome::Failure(
        absl::StrCat("http: TLS handshake with ", Endpoint(), " failed: ", ec.message()),
        /*non_retryable=*/true));
  }
  Fail("complete the TLS handshake", ec);  // the connection broke: worth a retry
}

void HttpExchange::Write() {
  auto written = [self = shared_from_this()](const boost::system::error_code& e, size_t) {
    self->OnWritten(e);
  };
  if (tls_stream_ != nullptr) {
    http::async_write(*tls_stream_, request_, std::move(written));
  } else {
    http::async_write(stream_, request_, std::move(written));
  }
}

void HttpExchange::OnWritten(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return Fail("send the request", ec);
  auto read = [self = shared_from_this()](const boost::system::error_code& e, size_t) {
    self->OnRead(e);
  };
  if (tls_stream_ != nullptr) {
    http::async_read(*tls_stream_, buffer_, *parser_, std::move(read));
  } else {
    http::async_read(stream_, buffer_, *parser_, std::move(read));
  }
}

void HttpExchange::OnRead(const boost::system::error_code& ec) {
  if (finished_) return;
  // A server that closes a TLS connection without close_notify after a complete response
  // (common with Connection: close) loses nothing.
  if (ec && !(ec == boost::asio::ssl::error::stream_truncated && parser_->is_done())) {
    return Fail("read the response", ec);
  }
  Tcp().close();
  http::response<http::string_body> response = parser_->release();
  if (IsFollowedRedirect(spec_.method, response.result_int())) {
    const auto location = response.find(http::field::location);
    if (location != response.end() && !location->value().empty()) {
      if (spec_.max_redirects > 0) return FollowRedirect(std::string(location->value()));
      if (redirects_ > 0) {
        return Finish(ExecutionOutcome::Failure(
            absl::StrCat("http: stopped after ", redirects_, " redirects: ", spec_.url,
                         " redirects again (input.max_redirects raises the bound)"),
            /*non_retryable=*/true));
      }
    }
  }
  ExecutionOutcome outcome = HttpResponseOutcome(ToResponseData(std::move(response)),
                                                 clock_.WallNow(), spec_.units_header);
  if (boost::json::object* output = outcome.output.if_object()) {
    (*output)["elapsed_ms"] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    if (redirects_ > 0) (*output)["url"] = spec_.url;  // where the answer came from
  }
  Finish(std::move(outcome));
}

void HttpExchange::FollowRedirect(const std::string& location) {
  absl::StatusOr<HttpRequestSpec> next = RedirectedSpec(spec_, location);
  if (!next.ok()) {
    return Finish(ExecutionOutcome::Failure(std::string(next.status().message()),
                                            /*non_retryable=*/true));
  }
  spec_ = *std::move(next);
  ++redirects_;
  ResetForNextRequest();
  Resolve();
}

void HttpExchange::Fail(const char* stage, const boost::system::error_code& ec) {
  Tcp().close();
  if (ec == http::error::body_limit) {
    // Asking again returns the same body: not worth a retry.
    return Finish(
        ExecutionOutcome::Failure(absl::StrCat("http: response body exceeds ",
                                               kMaxHttpResponseBodyBytes / (1024 * 1024), " MiB"),
                                  /*non_retryable=*/true));
  }
  std::string error;
  if (ec == boost::beast::error::timeout) {
    error = absl::StrCat("http: timed out after ", *spec_.timeout_ms, " ms (", stage, " ",
                         Endpoint(), ")");
  } else if (ec == boost::asio::error::connection_refused) {
    error = absl::StrCat("http: connection refused to ", Endpoint());
  } else if (ec == boost::asio::error::connection_reset) {
    error = absl::StrCat("http: connection reset by ", Endpoint());
  } else {
    error = absl::StrCat("http: cannot ", stage, " (", Endpoint(), "): ", ec.message());
  }
  Finish(ExecutionOutcome::Failure(std::move(error)));
}

void HttpExchange::Finish(ExecutionOutcome outcome) {
  finished_ = true;
  Done done = std::move(done_);
  done(std::move(outcome));
}

std::string HttpExchange::Endpoint() const {
  const bool ipv6 = spec_.host.find(':') != std::string::npos;
  return ipv6 ? absl::StrCat("[", spec_.host, "]:", spec_.port)
              : absl::StrCat(spec_.host, ":", spec_.port);
}

}  // namespace batchd::core
