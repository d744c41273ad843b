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

// `proxy`: an http:// request through it is sent in absolute form, with its credentials.
http::request<http::string_body> BuildRequest(const HttpRequestSpec& spec, bool keep_alive,
                                              const HttpProxy* proxy) {
  const std::string target = proxy != nullptr && !spec.tls
                                 ? absl::StrCat("http://", spec.host_header, spec.target)
                                 : spec.target;
  http::request<http::string_body> request{http::string_to_verb(spec.method), target, 11};
  request.set(http::field::host, spec.host_header);
  request.set(http::field::user_agent, "batchd");
  // Without a pool, one request per connection: tell the server, so it does not hold the socket.
  if (!keep_alive) request.set(http::field::connection, "close");
  if (proxy != nullptr && !spec.tls && !proxy->authorization.empty()) {
    request.set(http::field::proxy_authorization, proxy->authorization);
  }
  for (const auto& [name, value] : spec.headers) request.set(name, value);
  if (spec.body.has_value()) {
    request.body() = *spec.body;
    request.prepare_payload();
  }
  return request;
}

// The standard reason phrase when the code has one, else what the server sent.
template <typename Response>
std::string ReasonPhrase(const Response& response) {
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

// Methods that may be sent twice (RFC 9110 9.2.2).
bool IsIdempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

// What a server closing a kept-alive connection looks like to the request sent on it.
bool IsBrokenConnection(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
         ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe ||
         ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace

HttpExchange::HttpExchange(const Clock& clock, HttpRequestSpec spec,
                           std::shared_ptr<HttpTransport> transport, Done done)
    : clock_(clock),
      spec_(std::move(spec)),
      transport_(std::move(transport)),
      done_(std::move(done)) {}

void HttpExchange::Start() {
  if (start_called_.exchange(true) || aborted_) return;
  started_ = std::chrono::steady_clock::now();
  if (spec_.timeout_ms.has_value()) {
    // One deadline for the whole exchange, redirects included.
    deadline_ = started_ + std::chrono::milliseconds(*spec_.timeout_ms);
  }
  Begin();
}

void HttpExchange::Begin() {
  if (spec_.tls && transport_->tls() == nullptr) {
    return Finish(ExecutionOutcome::Failure("http: https:// is not configured",
                                            /*non_retryable=*/true));
  }
  if (const EgressPolicy* egress = transport_->egress(); egress != nullptr) {
    if (const std::string denied = egress->CheckHost(spec_.host, spec_.port); !denied.empty()) {
      return Finish(ExecutionOutcome::Failure(absl::StrCat("http: ", denied),
                                              /*non_retryable=*/true));
    }
  }
  proxy_ = transport_->proxy().For(spec_.tls, spec_.host, spec_.port);
  ResetForNextRequest();
  Acquire(/*fresh=*/false);
}

ConnectionKey HttpExchange::Key() const {
  if (proxy_ == nullptr) return {spec_.tls, spec_.host, spec_.port, ""};
  // http:// goes to the proxy whatever the origin; https:// tunnels to the origin.
  if (!spec_.tls) return {false, proxy_->host, proxy_->port, proxy_->HostPort()};
  return {true, spec_.host, spec_.port, proxy_->HostPort()};
}

void HttpExchange::Acquire(bool fresh) {
  const uint64_t ticket = transport_->pool().Acquire(
      Key(), fresh, [self = shared_from_this()](std::shared_ptr<HttpConnection> c, bool reused) {
        self->OnAcquired(std::move(c), reused);
      });
  if (ticket != 0) {
    absl::MutexLock lock(&mu_);
    // Unless the connection came meanwhile (then the ticket is spent and harmless).
    if (current_ == nullptr) ticket_ = ticket;
  }
}

void HttpExchange::OnAcquired(std::shared_ptr<HttpConnection> connection, bool reused) {
  {
    absl::MutexLock lock(&mu_);
    current_ = connection;
    ticket_ = 0;
  }
  const HttpConnection::Strand strand = connection->strand();
  boost::asio::post(strand, [self = shared_from_this(), connection = std::move(connection),
                             reused]() mutable { self->Adopt(std::move(connection), reused); });
}

void HttpExchange::Abort() {
  aborted_ = true;
  uint64_t ticket = 0;
  std::shared_ptr<HttpConnection> connection;
  {
    absl::MutexLock lock(&mu_);
    ticket = ticket_;
    connection = current_;
  }
  if (ticket != 0) transport_->pool().CancelWait(ticket);
  if (connection == nullptr) return;  // not adopted yet: Adopt sees aborted_
  const HttpConnection::Strand strand = connection->strand();
  boost::asio::post(strand, [self = shared_from_this(), connection] {
    if (connection->owner != self.get()) return;  // given back already
    if (self->resolving_) {
      // The lookup cannot be interrupted; its answer is ignored.
      self->resolving_ = false;
      self->dns_timer_->cancel();
      return self->Release(false);
    }
    connection->Close();  // pending operations complete with operation_aborted
  });
}

void HttpExchange::Adopt(std::shared_ptr<HttpConnection> connection, bool reused) {
  if (aborted_) {
    transport_->pool().Release(std::move(connection), /*keep=*/reused);
    absl::MutexLock lock(&mu_);
    current_.reset();
    return;
  }
  connection_ = std::move(connection);
  connection_->owner = this;
  reused_ = reused;
  if (deadline_.has_value()) {
    if (std::chrono::steady_clock::now() >= *deadline_) {
      return Fail("wait for a connection to", boost::beast::error::timeout);
    }
    connection_->tcp().expires_at(*deadline_);  // covers connect, handshake, write and read
  } else {
    connection_->tcp().expires_never();
  }
  if (reused_) return Write();
  Resolve();
}

void HttpExchange::Resolve() {
  const std::string& host = proxy_ != nullptr ? proxy_->host : spec_.host;
  const uint16_t port = proxy_ != nullptr ? proxy_->port : spec_.port;
  if (std::optional<Endpoints> cached =
          transport_->dns().Find(host, port, std::chrono::steady_clock::now())) {
    return Connect(*cached);
  }
  std::chrono::steady_clock::duration limit = transport_->dns_timeout();
  if (deadline_.has_value()) limit = std::min(limit, *deadline_ - std::chrono::steady_clock::now());
  resolver_.emplace(connection_->strand());
  dns_timer_.emplace(connection_->strand());
  resolving_ = true;
  dns_timer_->expires_after(limit);
  dns_timer_->async_wait([self = shared_from_this(), host](const boost::system::error_code& ec) {
    if (ec || !self->resolving_) return;
    // getaddrinfo cannot be interrupted: give up on it and ignore its late answer.
    self->resolving_ = false;
    if (self->aborted_) return self->Release(false);
    const bool task_deadline =
        self->deadline_.has_value() && std::chrono::steady_clock::now() >= *self->deadline_;
    if (task_deadline) return self->Fail("resolve", boost::beast::error::timeout);
    self->Release(false);
    self->Finish(ExecutionOutcome::Failure(
        absl::StrCat("http: the DNS lookup of ", host, " timed out after ",
                     self->transport_->dns_timeout().count(), " ms (--http-dns-timeout)")));
  });
  resolver_->async_resolve(host, std::to_string(port),
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       const tcp::resolver::results_type& results) {
                             if (!self->resolving_) return;  // timed out or aborted
                             self->resolving_ = false;
                             self->dns_timer_->cancel();
                             self->OnResolved(ec, results);
                           });
}

void HttpExchange::OnResolved(const boost::system::error_code& ec,
                              const tcp::resolver::results_type& results) {
  if (aborted_) return Release(false);
  if (ec) return Fail("resolve", ec);
  Endpoints endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  const std::string& host = proxy_ != nullptr ? proxy_->host : spec_.host;
  transport_->dns().Store(host, proxy_ != nullptr ? proxy_->port : spec_.port, endpoints,
                          std::chrono::steady_clock::now());
  Connect(endpoints);
}

void HttpExchange::Connect(const Endpoints& endpoints) {
  if (deadline_.has_value() && std::chrono::steady_clock::now() >= *deadline_) {
    return Fail("resolve", boost::beast::error::timeout);
  }
  // Only to addresses the egress policy allows: a name cannot lead to a denied one. Through a
  // proxy, the proxy resolves the origin: its name was checked (Begin).
  std::vector<tcp::endpoint> allowed;
  std::string denied;
  const EgressPolicy* egress = transport_->egress();
  for (const tcp::endpoint& endpoint : endpoints) {
    const std::string why = egress == nullptr || proxy_ != nullptr
                                ? ""
                                : egress->CheckAddress(spec_.host, endpoint.address(), spec_.port);
    if (why.empty()) {
      allowed.push_back(endpoint);
    } else if (denied.empty()) {
      denied = why;
    }
  }
  if (allowed.empty()) {
    Release(false);
    return Finish(ExecutionOutcome::Failure(absl::StrCat("http: ", denied),
                                            /*non_retryable=*/true));
  }
  connection_->tcp().async_connect(
      allowed, [self = shared_from_this()](const boost::system::error_code& e,
                                           const tcp::endpoint&) { self->OnConnected(e); });
}

void HttpExchange::OnConnected(const boost::system::error_code& ec) {
  if (aborted_) return Release(false);
  if (ec) return Fail(proxy_ != nullptr ? "connect to the proxy for" : "connect", ec);
  connection_->MarkConnected();
  if (proxy_ != nullptr && spec_.tls) return WriteConnect();
  if (connection_->tls_stream() == nullptr) return Write();
  Handshake();
}

void HttpExchange::WriteConnect() {
  const std::string authority = absl::StrCat(
      spec_.host.find(':') != std::string::npos ? absl::StrCat("[", spec_.host, "]") : spec_.host,
      ":", spec_.port);
  connect_request_ = {http::verb::connect, authority, 11};
  connect_request_.set(http::field::host, authority);
  connect_request_.set(http::field::user_agent, "batchd");
  if (!proxy_->authorization.empty()) {
    connect_request_.set(http::field::proxy_authorization, proxy_->authorization);
  }
  connect_parser_.emplace();
  connect_parser_->skip(true);  // a 2xx answer to CONNECT has no body: the tunnel follows
  http::async_write(
      connection_->tcp(), connect_request_,
      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
        if (self->aborted_) return self->Release(false);
        if (ec) return self->Fail("send CONNECT to the proxy for", ec);
        http::async_read(
            self->connection_->tcp(), self->connection_->buffer(), *self->connect_parser_,
            [self](const boost::system::error_code& e, size_t) { self->OnConnectAnswer(e); });
      });
}

void HttpExchange::OnConnectAnswer(const boost::system::error_code& ec) {
  if (aborted_) return Release(false);
  if (ec) return Fail("read the proxy's answer to CONNECT for", ec);
  const auto& answer = connect_parser_->get();
  const unsigned status = answer.result_int();
  if (status / 100 == 2 && connection_->buffer().size() == 0) return Handshake();
  Release(false);
  // The proxy's own trouble (5xx) may pass; a refusal (403, 407) will not.
  Finish(ExecutionOutcome::Failure(
      absl::StrCat("http: the proxy ", proxy_->HostPort(), " refused CONNECT to ", Endpoint(), ": ",
                   status, " ", ReasonPhrase(answer)),
      /*non_retryable=*/status / 100 != 5));
}

void HttpExchange::Handshake() {
  ExpectTlsPeer(connection_->tls_stream()->native_handle(), spec_.host);
  connection_->tls_stream()->async_handshake(
      boost::asio::ssl::stream_base::client,
      [self = shared_from_this()](const boost::system::error_code& e) { self->OnHandshake(e); });
}

void HttpExchange::OnHandshake(const boost::system::error_code& ec) {
  if (aborted_) return Release(false);
  if (!ec) return Write();
  // What the server presented was refused, or it speaks no TLS this client accepts: asking
  // again gives the same answer.
  if (const std::string why = TlsVerifyFailure(connection_->tls_stream()->native_handle());
      !why.empty()) {
    Release(false);
    return Finish(ExecutionOutcome::Failure(
        absl::StrCat("http: TLS: the certificate of ", Endpoint(), " is not accepted: ", why),
        /*non_retryable=*/true));
  }
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    Release(false);
    return Finish(ExecutionOutcome::Failure(
        absl::StrCat("http: TLS handshake with ", Endpoint(), " failed: ", ec.message()),
        /*non_retryable=*/true));
  }
  Fail("complete the TLS handshake", ec);  // the connection broke: worth a retry
}

void HttpExchange::Write() {
  auto written = [self = shared_from_this()](const boost::system::error_code& e, size_t bytes) {
    self->OnWritten(e, bytes);
  };
  if (HttpConnection::TlsStream* tls = connection_->tls_stream()) {
    http::async_write(*tls, request_, std::move(written));
  } else {
    http::async_write(connection_->tcp(), request_, std::move(written));
  }
}

void HttpExchange::OnWritten(const boost::system::error_code& ec, size_t bytes) {
  written_ = bytes;
  if (aborted_) return Release(false);
  if (ec) return Fail("send the request", ec);
  auto read = [self = shared_from_this()](const boost::system::error_code& e, size_t) {
    self->OnRead(e);
  };
  if (HttpConnection::TlsStream* tls = connection_->tls_stream()) {
    http::async_read(*tls, connection_->buffer(), *parser_, std::move(read));
  } else {
    http::async_read(connection_->tcp(), connection_->buffer(), *parser_, std::move(read));
  }
}

void HttpExchange::OnRead(const boost::system::error_code& ec) {
  if (aborted_) return Release(false);
  // A server that closes a TLS connection without close_notify after a complete response
  // (common with Connection: close) loses nothing.
  const bool truncated_after_response =
      ec == boost::asio::ssl::error::stream_truncated && parser_->is_done();
  if (ec && !truncated_after_response) return Fail("read the response", ec);
  ++connection_->served;
  const bool keep =
      !ec && parser_->keep_alive() && !parser_->need_eof() && connection_->buffer().size() == 0;
  Release(keep);
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
  retried_ = false;
  Begin();
}

void HttpExchange::ResetForNextRequest() {
  request_ = BuildRequest(spec_, transport_->pool().keeps_alive(), proxy_);
  written_ = 0;
  parser_.emplace();
  parser_->body_limit(kMaxHttpResponseBodyBytes);
  parser_->header_limit(kMaxResponseHeaderBytes);
  // A HEAD response announces a body it does not send: do not wait for it.
  parser_->skip(spec_.method == "HEAD");
}

void HttpExchange::Release(bool keep) {
  if (connection_ == nullptr) return;
  connection_->owner = nullptr;
  {
    absl::MutexLock lock(&mu_);
    current_.reset();
  }
  transport_->pool().Release(std::move(connection_), keep);
  connection_.reset();
}

bool HttpExchange::RetriedOnNewConnection(const boost::system::error_code& ec) {
  if (!reused_ || retried_ || parser_->got_some() || !IsBrokenConnection(ec)) return false;
  if (!IsIdempotent(spec_.method) && written_ > 0) return false;
  retried_ = true;
  Release(false);
  ResetForNextRequest();
  Acquire(/*fresh=*/true);
  return true;
}

void HttpExchange::Fail(const char* stage, const boost::system::error_code& ec) {
  if (aborted_) return Release(false);
  if (RetriedOnNewConnection(ec)) return;
  Release(false);
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
    error = absl::StrCat(
        "http: connection refused to ",
        proxy_ != nullptr ? absl::StrCat("the proxy ", proxy_->HostPort()) : Endpoint());
  } else if (ec == boost::asio::error::connection_reset) {
    error = absl::StrCat("http: connection reset by ", Endpoint());
  } else {
    error = absl::StrCat("http: cannot ", stage, " (", Endpoint(), "): ", ec.message());
  }
  Finish(ExecutionOutcome::Failure(std::move(error)));
}

void HttpExchange::Finish(ExecutionOutcome outcome) {
  if (finished_.exchange(true) || aborted_) return;
  Done done = std::move(done_);
  done(std::move(outcome));
}

std::string HttpExchange::Endpoint() const {
  const bool ipv6 = spec_.host.find(':') != std::string::npos;
  return ipv6 ? absl::StrCat("[", spec_.host, "]:", spec_.port)
              : absl::StrCat(spec_.host, ":", spec_.port);
}

}  // namespace batchd::core
