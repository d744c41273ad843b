// One connection of the http executor: a TCP stream (under TLS for https://) with a strand of
// its own that every operation on it runs on, whichever exchange is using it. The pool
// (connection_pool.h) hands it to one exchange at a time and keeps it between requests when
// both ends keep it alive. `owner` and the streams are touched on the strand only; the
// descriptor check (PeerClosedOrSentData) is for an idle connection, from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/hash/hash.h"

namespace batchd::core {

// What a connection is to, and so which requests may share it.
struct ConnectionKey {
  bool tls = false;  // https:// (the TLS session is with `host`, through the proxy if any)
  std::string host;  // the origin's, or the proxy's for http:// through a proxy
  uint16_t port = 0;
  std::string proxy;  // "host:port" of the proxy tunnelling https:// to `host`; "" for none

  bool operator==(const ConnectionKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const ConnectionKey& k) {
    return H::combine(std::move(h), k.tls, k.host, k.port, k.proxy);
  }
  // "https://api.example.com:443" (+ " via proxy:3128"), for messages.
  std::string ToString() const;
};

class HttpConnection {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // `tls` must be set when key.tls is.
  HttpConnection(boost::asio::io_context& io, ConnectionKey key, boost::asio::ssl::context* tls);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  const ConnectionKey& key() const { return key_; }
  const Strand& strand() const { return strand_; }
  // The TCP stream, under the TLS stream for https://.
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : tcp_; }
  TlsStream* tls_stream() { return tls_.get(); }  // null for http://
  // Bytes read past the last response (none on a connection fit for reuse).
  boost::beast::flat_buffer& buffer() { return buffer_; }

  // After the TCP connection is up (sets TCP_NODELAY).
  void MarkConnected();
  bool connected() const { return fd_ >= 0; }
  // True when the peer closed the idle connection or sent something unasked (a TLS alert, a
  // stray byte): it cannot carry another request. Non-blocking.
  bool PeerClosedOrSentData() const;
  void Close();

  // Requests answered on it so far.
  uint32_t served = 0;
  // The exchange using it; null while idle or waiting to be adopted.
  const void* owner = nullptr;
  // When it became idle (the pool's, under its lock).
  std::chrono::steady_clock::time_point idle_since{};

 private:
  const ConnectionKey key_;
  Strand strand_;
  boost::beast::tcp_stream tcp_;    // http:// only
  std::unique_ptr<TlsStream> tls_;  // https://
  boost::beast::flat_buffer buffer_;
  int fd_ = -1;
};

}  // namespace batchd::core
