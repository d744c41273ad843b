// A small HTTP/1.1 server for tests of HTTP clients, on 127.0.0.1 with a port the kernel picks,
// built on Boost.Beast's synchronous API: one accept thread, one thread per connection, which
// serves requests for as long as the client keeps it alive (HTTP/1.1) and the reply does not
// close it, every wait bounded (the destructor cuts idle connections); plain, or HTTPS with a
// certificate the test gives (StartTls). Its public methods are thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace batchd::testing {

class HttpTestServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    absl::Time received_at;

    // The value of header `name` (lower case), "" when absent.
    std::string Header(absl::string_view name) const;
  };
  struct Reply {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Wait this long before replying; if the client closes the connection meanwhile, no reply
    // is sent and the close is counted (see WaitForClientCloses).
    absl::Duration hold = absl::ZeroDuration();
    bool close = false;    // answer with "Connection: close" and close
    bool drop = false;     // close the connection without answering (a server gone idle)
    bool hang_up = false;  // answer keeping the connection alive, then close it anyway
  };
  // Runs on the connection's thread; may be called concurrently.
  using Handler = std::function<Reply(const Request&)>;

  static absl::StatusOr<std::unique_ptr<HttpTestServer>> Start(Handler handler);
  // HTTPS (TLS 1.2+) presenting the PEM certificate chain and key in these files.
  static absl::StatusOr<std::unique_ptr<HttpTestServer>> StartTls(Handler handler,
                                                                  const std::string& cert_file,
                                                                  const std::string& key_file);
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;
  // Stops accepting, cuts open connections and joins every thread.
  ~HttpTestServer();

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port><target>" (https:// for StartTls).
  std::string Url(absl::string_view target) const;
  // Connections whose TLS handshake failed (the client refused the certificate).
  size_t handshake_failures() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<Request> requests() const ABSL_LOCKS_EXCLUDED(mu_);
  // Connections accepted so far.
  size_t accepts() const ABSL_LOCKS_EXCLUDED(mu_);
  // False when fewer than `n` requests arrived within `timeout`.
  bool WaitForRequests(size_t n, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // False when the client closed fewer than `n` held connections within `timeout`.
  bool WaitForClientCloses(size_t n, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit HttpTestServer(Handler handler);
  // Listens and starts the accept thread.
  static absl::StatusOr<std::unique_ptr<HttpTestServer>> Launch(
      std::unique_ptr<HttpTestServer> server);
  void AcceptLoop();
  void Serve(boost::asio::ip::tcp::socket socket);
  // Reads one request from `stream`, answers it through the handler; true when the connection
  // stays open for another.
  template <typename Stream>
  bool Exchange(Stream& stream, boost::beast::flat_buffer& buffer, int fd);
  // True when the peer closed the connection before `hold` passed (or the server is stopping).
  bool PeerClosedWithin(int fd, absl::Duration hold);

  const Handler handler_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // null: plain HTTP
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // signalled when requests_ or client_closes_ grow
  std::vector<std::thread> connection_threads_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int> open_fds_ ABSL_GUARDED_BY(mu_);  // shut down by the destructor
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  size_t client_closes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t handshake_failures_ ABSL_GUARDED_BY(mu_) = 0;
  size_t accepts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace batchd::testing
