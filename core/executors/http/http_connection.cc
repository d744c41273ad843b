#include "core/executors/http/http_connection.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace batchd::core {

std::string ConnectionKey::ToString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out =
      absl::StrCat(tls ? "https://" : "http://", ipv6 ? "[" : "", host, ipv6 ? "]" : "", ":", port);
  if (!proxy.empty()) absl::StrAppend(&out, " via ", proxy);
  return out;
}

HttpConnection::HttpConnection(boost::asio::io_context& io, ConnectionKey key,
                               boost::asio::ssl::context* tls)
    : key_(std::move(key)), strand_(boost::asio::make_strand(io)), tcp_(strand_) {
  if (key_.tls && tls != nullptr) tls_ = std::make_unique<TlsStream>(strand_, *tls);
}

void HttpConnection::MarkConnected() {
  // A request's header and body may go out as two writes (two TLS records): without this, the
  // second waits for the server's delayed ACK of the first (Nagle), 40 ms on Linux.
  boost::system::error_code ignored;
  tcp().socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  fd_ = tcp().socket().native_handle();
}

bool HttpConnection::PeerClosedOrSentData() const {
  if (fd_ < 0) return true;
  char byte = 0;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return true;  // 0: closed; 1: data nobody asked for
}

void HttpConnection::Close() {
  boost::system::error_code ignored;
  tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  tcp().close();
  fd_ = -1;
}

}  // namespace batchd::core
