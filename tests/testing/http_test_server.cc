#include "tests/testing/http_test_server.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace batchd::testing {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

HttpTestServer::Request ToRequest(const http::request<http::string_body>& message) {
  HttpTestServer::Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    request.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                                 std::string(field.value()));
  }
  request.body = message.body();
  request.received_at = absl::Now();
  return request;
}

}  // namespace

std::string HttpTestServer::Request::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<HttpTestServer>> HttpTestServer::Start(Handler handler) {
  return Launch(std::unique_ptr<HttpTestServer>(new HttpTestServer(std::move(handler))));
}

absl::StatusOr<std::unique_ptr<HttpTestServer>> HttpTestServer::StartTls(
    Handler handler, const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<HttpTestServer> server(new HttpTestServer(std::move(handler)));
  server->tls_ = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(server->tls_->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  server->tls_->use_certificate_chain_file(cert_file, ec);
  if (!ec) server->tls_->use_private_key_file(key_file, boost::asio::ssl::context::pem, ec);
  if (ec) return absl::InternalError(absl::StrCat("test HTTPS server: ", ec.message()));
  return Launch(std::move(server));
}

absl::StatusOr<std::unique_ptr<HttpTestServer>> HttpTestServer::Launch(
    std::unique_ptr<HttpTestServer> server) {
  boost::system::error_code ec;
  const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
  server->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) server->acceptor_.bind(endpoint, ec);
  if (!ec) server->acceptor_.listen(64, ec);
  if (ec) return absl::InternalError(absl::StrCat("test HTTP server: ", ec.message()));
  server->port_ = server->acceptor_.local_endpoint().port();
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

HttpTestServer::HttpTestServer(Handler handler) : handler_(std::move(handler)) {}

HttpTestServer::~HttpTestServer() {
  stopping_ = true;
  if (accept_thread_.joinable()) {
    // Wake the blocking accept with a connection of our own; the loop then sees stopping_.
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
  }
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    // shutdown(2), not close: the fds stay owned by their threads, whose blocking calls return.
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(connection_threads_);
  }
  for (std::thread& t : threads) t.join();
}

std::string HttpTestServer::Url(absl::string_view target) const {
  return absl::StrCat(tls_ != nullptr ? "https" : "http", "://127.0.0.1:", port_, target);
}

size_t HttpTestServer::handshake_failures() const {
  absl::MutexLock lock(&mu_);
  return handshake_failures_;
}

size_t HttpTestServer::accepts() const {
  absl::MutexLock lock(&mu_);
  return accepts_;
}

std::vector<HttpTestServer::Request> HttpTestServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

bool HttpTestServer::WaitForRequests(size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (requests_.size() < n) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) return requests_.size() >= n;
  }
  return true;
}

bool HttpTestServer::WaitForClientCloses(size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (client_closes_ < n) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) return client_closes_ >= n;
  }
  return true;
}

void HttpTestServer::AcceptLoop() {
  while (true) {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (stopping_) return;
    if (ec) continue;
    absl::MutexLock lock(&mu_);
    ++accepts_;
    open_fds_.insert(socket.native_handle());
    connection_threads_.emplace_back(
        [this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
  }
}

void HttpTestServer::Serve(tcp::socket socket) {
  const int fd = socket.native_handle();
  boost::system::error_code ec;
  boost::beast::flat_buffer buffer;
  if (tls_ == nullptr) {
    while (Exchange(socket, buffer, fd)) {
    }
  } else {
    boost::asio::ssl::stream<tcp::socket&> stream(socket, *tls_);
    stream.handshake(boost::asio::ssl::stream_base::server, ec);
    if (ec) {
      absl::MutexLock lock(&mu_);
      ++handshake_failures_;
      changed_.SignalAll();
    } else {
      while (Exchange(stream, buffer, fd)) {
      }
    }
  }
  absl::MutexLock lock(&mu_);
  open_fds_.erase(fd);
  socket.close(ec);
}

template <typename Stream>
bool HttpTestServer::Exchange(Stream& stream, boost::beast::flat_buffer& buffer, int fd) {
  boost::system::error_code ec;
  http::request<http::string_body> message;
  http::read(stream, buffer, message, ec);
  if (ec || stopping_) return false;
  const Request request = ToRequest(message);
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    changed_.SignalAll();
  }
  const Reply reply = handler_(request);
  if (reply.drop) {
    ::shutdown(fd, SHUT_RDWR);
    return false;
  }
  if (reply.hold > absl::ZeroDuration() && PeerClosedWithin(fd, reply.hold)) {
    absl::MutexLock lock(&mu_);
    if (!stopping_) ++client_closes_;
    changed_.SignalAll();
    return false;
  }
  const bool keep_alive = message.keep_alive() && !reply.close;
  http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
  for (const auto& [name, value] : reply.headers) response.set(name, value);
  response.body() = reply.body;
  response.keep_alive(keep_alive);
  response.prepare_payload();
  http::write(stream, response, ec);
  if (!ec && keep_alive && !reply.hang_up) return true;
  // No TLS close_notify: the client has the whole response (Content-Length) and closes.
  ::shutdown(fd, SHUT_WR);
  return false;
}

bool HttpTestServer::PeerClosedWithin(int fd, absl::Duration hold) {
  const absl::Time deadline = absl::Now() + hold;
  while (!stopping_) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) return false;
    if (ready > 0) {
      char byte = 0;
      const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        return true;
      }
      if (n > 0) return false;  // a pipelined byte, not a close: reply as usual
    }
  }
  return true;
}

}  // namespace batchd::testing
