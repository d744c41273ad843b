#include "tests/testing/proxy_test_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace batchd::testing {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

void Answer(tcp::socket& socket, http::status status) {
  http::response<http::string_body> response{status, 11};
  response.keep_alive(false);
  response.prepare_payload();
  boost::system::error_code ec;
  http::write(socket, response, ec);
}

// "host:port" → an endpoint on loopback (the tests' origins are all there); false otherwise.
bool LoopbackEndpoint(absl::string_view authority, tcp::endpoint& endpoint) {
  const size_t colon = authority.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(authority.substr(colon + 1), &port)) {
    return false;
  }
  absl::string_view host = authority.substr(0, colon);
  if (host != "127.0.0.1" && host != "localhost") return false;
  endpoint = tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProxyTestServer>> ProxyTestServer::Start(Options options) {
  std::unique_ptr<ProxyTestServer> server(new ProxyTestServer(std::move(options)));
  boost::system::error_code ec;
  const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
  server->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) server->acceptor_.bind(endpoint, ec);
  if (!ec) server->acceptor_.listen(64, ec);
  if (ec) return absl::InternalError(absl::StrCat("test proxy: ", ec.message()));
  server->port_ = server->acceptor_.local_endpoint().port();
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

ProxyTestServer::~ProxyTestServer() {
  stopping_ = true;
  if (accept_thread_.joinable()) {
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
  }
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

std::string ProxyTestServer::Url() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::vector<ProxyTestServer::Request> ProxyTestServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void ProxyTestServer::Track(int fd, bool open) {
  absl::MutexLock lock(&mu_);
  if (open) {
    open_fds_.insert(fd);
  } else {
    open_fds_.erase(fd);
  }
}

void ProxyTestServer::AcceptLoop() {
  while (true) {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (stopping_) return;
    if (ec) continue;
    absl::MutexLock lock(&mu_);
    open_fds_.insert(socket.native_handle());
    threads_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
  }
}

void ProxyTestServer::Serve(tcp::socket client) {
  const int client_fd = client.native_handle();
  boost::system::error_code ec;
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> message;
  http::read(client, buffer, message, ec);
  if (!ec && !stopping_) {
    Request request{std::string(message.method_string()), std::string(message.target()),
                    std::string(message[http::field::proxy_authorization])};
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    tcp::socket origin(io_);
    tcp::endpoint endpoint;
    absl::string_view target = request.target;
    const bool connect = message.method() == http::verb::connect;
    const bool forward = absl::ConsumePrefix(&target, "http://");
    const absl::string_view authority = forward ? target.substr(0, target.find('/')) : target;
    if (!options_.required_authorization.empty() &&
        request.authorization != options_.required_authorization) {
      Answer(client, http::status::proxy_authentication_required);
    } else if (connect && options_.refuse_connect) {
      Answer(client, http::status::forbidden);
    } else if ((!connect && !forward) || !LoopbackEndpoint(authority, endpoint)) {
      Answer(client, http::status::bad_request);
    } else if (origin.connect(endpoint, ec); ec) {
      Answer(client, http::status::bad_gateway);
    } else {
      Track(origin.native_handle(), true);
      if (connect) {
        boost::asio::write(
            client, boost::asio::buffer("HTTP/1.1 200 Connection established\r\n\r\n", 39), ec);
      } else {
        // One request per connection: the origin answers and closes, the answer is relayed.
        const absl::string_view path = target.substr(authority.size());
        message.target(path.empty() ? std::string("/") : std::string(path));
        message.erase(http::field::proxy_authorization);
        message.keep_alive(false);
        http::write(origin, message, ec);
      }
      if (!ec) Relay(client_fd, origin.native_handle());
      Track(origin.native_handle(), false);
      origin.close(ec);
    }
  }
  Track(client_fd, false);
  client.close(ec);
}

void ProxyTestServer::Relay(int a, int b) {
  char chunk[16384];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (!stopping_) {
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return;
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      const int to = fds[1 - i].fd;
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t w = ::send(to, chunk + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (w <= 0) return;
        sent += w;
      }
    }
  }
}

}  // namespace batchd::testing
