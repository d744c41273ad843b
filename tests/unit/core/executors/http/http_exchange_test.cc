// HttpExchange against real loopback servers: the test HTTP server (tests/testing) and, where
// the test needs bytes no well-behaved server sends, a one-connection raw server below. The
// io_context runs on the test's thread until the exchange has no work left, so every test
// ends deterministically; real sockets, so each run is bounded (run_for) and nothing sleeps.
#include "core/executors/http/http_exchange.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/http_test_server.h"
#include "tests/testing/proxy_test_server.h"

namespace batchd::core {
namespace {

using ::batchd::testing::HttpTestServer;
using ::testing::IsEmpty;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr absl::Duration kWait = absl::Seconds(20);
constexpr auto kRunLimit = std::chrono::seconds(30);

// Accepts one connection on 127.0.0.1, reads one request, writes `response` as is and closes.
class RawServer {
 public:
  explicit RawServer(std::string response) : response_(std::move(response)) {
    const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~RawServer() {
    // Wakes an accept still waiting (the exchange never connected) with a connection of our
    // own, which closes at once.
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket wake(io_);
    wake.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    wake.close(ec);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  // The request target read; "" until one was.
  std::string target() const {
    absl::MutexLock lock(&mu_);
    return target_;
  }

 private:
  void Serve() {
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> request;
    boost::beast::http::read(socket, buffer, request, ec);
    if (ec) return;
    {
      absl::MutexLock lock(&mu_);
      target_ = std::string(request.target());
    }
    boost::asio::write(socket, boost::asio::buffer(response_), ec);
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  }

  const std::string response_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  mutable absl::Mutex mu_;
  std::string target_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

HttpRequestSpec SpecFor(uint16_t port, std::string target = "/") {
  HttpRequestSpec spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  spec.target = std::move(target);
  spec.host_header = absl::StrCat("127.0.0.1:", port);
  return spec;
}

class HttpExchangeTest : public ::testing::Test {
 protected:
  void StartServer(HttpTestServer::Handler handler) {
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server =
        HttpTestServer::Start(std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::shared_ptr<HttpExchange> Make(HttpRequestSpec spec) {
    return std::make_shared<HttpExchange>(
        clock_, std::move(spec), transport_,
        [this](ExecutionOutcome outcome) { outcomes_.push_back(std::move(outcome)); });
  }

  // Runs the loop on this thread until no exchange has work left; false if that took longer
  // than kRunLimit.
  bool RunUntilIdle() {
    io_.restart();
    io_.run_for(kRunLimit);
    return io_.stopped();
  }

  // Starts an exchange for `spec`, runs it to its end and returns its one outcome.
  ExecutionOutcome Exchange(HttpRequestSpec spec) {
    Make(std::move(spec))->Start();
    EXPECT_TRUE(RunUntilIdle());
    EXPECT_EQ(outcomes_.size(), 1u);
    return outcomes_.empty() ? ExecutionOutcome::Failure("test: no outcome") : outcomes_.back();
  }

  // No connection is kept (unless a test makes its own transport), so the loop runs out of
  // work when the exchanges are done.
  static HttpTransportOptions OneConnectionPerRequest() {
    HttpTransportOptions options;
    options.pool.idle_timeout = std::chrono::milliseconds(0);
    return options;
  }

  boost::asio::io_context io_;
  SystemClock clock_;
  std::shared_ptr<HttpTransport> transport_ = std::make_shared<HttpTransport>(
      io_, /*tls=*/nullptr, /*egress=*/nullptr, OneConnectionPerRequest());
  std::unique_ptr<HttpTestServer> server_;
  std::vector<ExecutionOutcome> outcomes_;
};

HttpTestServer::Reply Ok(const HttpTestServer::Request&) {
  HttpTestServer::Reply reply;
  reply.headers = {{"Content-Type", "application/json"}};
  reply.body = R"({"ok":true})";
  return reply;
}

TEST_F(HttpExchangeTest, SendsOneRequestAskingToCloseAndReportsTheResponse) {
  StartServer(Ok);
  HttpRequestSpec spec = SpecFor(server_->port(), "/path?q=1");
  const ExecutionOutcome outcome = Exchange(spec);
  EXPECT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(outcome.output.at("status"), 200);
  EXPECT_EQ(outcome.output.at("body").at("ok"), true);
  const std::vector<HttpTestServer::Request> requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/path?q=1");
  EXPECT_EQ(requests[0].Header("host"), spec.host_header);
  EXPECT_EQ(requests[0].Header("user-agent"), "batchd");
  EXPECT_EQ(requests[0].Header("connection"), "close");
  EXPECT_EQ(requests[0].Header("content-length"), "");
  EXPECT_EQ(requests[0].body, "");
}

TEST_F(HttpExchangeTest, SendsTheMethodBodyAndHeadersTheCallerAskedFor) {
  StartServer(Ok);
  HttpRequestSpec spec = SpecFor(server_->port(), "/items/7");
  spec.method = "PUT";
  spec.headers = {{"X-Trace", "abc"}, {"User-Agent", "my-agent"}};
  spec.body = "payload bytes";
  ASSERT_TRUE(Exchange(spec).success);
  const std::vector<HttpTestServer::Request> requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/items/7");
  EXPECT_EQ(requests[0].Header("x-trace"), "abc");
  EXPECT_EQ(requests[0].Header("user-agent"), "my-agent");  // the caller's replaces ours
  EXPECT_EQ(requests[0].Header("content-length"), "13");
  EXPECT_EQ(requests[0].body, "payload bytes");
}

TEST_F(HttpExchangeTest, AnEmptyBodyIsSentWithContentLengthZero) {
  StartServer(Ok);
  HttpRequestSpec spec = SpecFor(server_->port());
  spec.method = "POST";
  spec.body = "";
  ASSERT_TRUE(Exchange(spec).success);
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].Header("content-length"), "0");
}

TEST_F(HttpExchangeTest, KeepsItselfAliveUntilItReports) {
  StartServer(Ok);
  Make(SpecFor(server_->port()))->Start();  // the caller keeps no reference
  ASSERT_TRUE(RunUntilIdle());
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_TRUE(outcomes_[0].success) << outcomes_[0].error;
}

TEST_F(HttpExchangeTest, ResolvesAHostName) {
  StartServer(Ok);
  HttpRequestSpec spec = SpecFor(server_->port());
  spec.host = "localhost";  // may resolve to ::1 first: the exchange tries each address
  const ExecutionOutcome outcome = Exchange(spec);
  EXPECT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(HttpExchangeTest, AbortBeforeStartSendsNothingAndReportsNothing) {
  StartServer(Ok);
  std::shared_ptr<HttpExchange> exchange = Make(SpecFor(server_->port()));
  exchange->Abort();
  exchange->Start();
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(outcomes_, IsEmpty());
  EXPECT_THAT(server_->requests(), IsEmpty());
}

TEST_F(HttpExchangeTest, AbortWhileWaitingForTheResponseClosesTheConnectionSilently) {
  std::shared_ptr<HttpExchange> exchange;
  absl::Notification made;  // orders the write of `exchange` before the server thread's read
  StartServer([&exchange, &made](const HttpTestServer::Request&) {
    made.WaitForNotification();
    exchange->Abort();  // from the server's thread, while the exchange reads
    HttpTestServer::Reply reply;
    reply.hold = absl::Seconds(30);
    return reply;
  });
  exchange = Make(SpecFor(server_->port()));
  made.Notify();
  exchange->Start();
  ASSERT_TRUE(RunUntilIdle());
  EXPECT_THAT(outcomes_, IsEmpty());
  EXPECT_TRUE(server_->WaitForClientCloses(1, kWait));
}

TEST_F(HttpExchangeTest, AbortAfterTheReportChangesNothing) {
  StartServer(Ok);
  std::shared_ptr<HttpExchange> exchange = Make(SpecFor(server_->port()));
  exchange->Start();
  ASSERT_TRUE(RunUntilIdle());
  exchange->Abort();
  exchange->Start();  // a second start after the end is ignored too
  ASSERT_TRUE(RunUntilIdle());
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_TRUE(outcomes_[0].success);
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(HttpExchangeTest, AClosedPortIsConnectionRefusedAndRetryable) {
  // Bound but not listening: nothing can connect to this port while it is held.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor held(io);
  const boost::asio::ip::tcp::endpoint any(boost::asio::ip::make_address("127.0.0.1"), 0);
  held.open(any.protocol());
  held.bind(any);
  const uint16_t port = held.local_endpoint().port();
  const ExecutionOutcome outcome = Exchange(SpecFor(port));
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, absl::StrCat("http: connection refused to 127.0.0.1:", port));
  EXPECT_FALSE(outcome.non_retryable);
}

TEST_F(HttpExchangeTest, NamesAnIpv6EndpointInBrackets) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor held(io);
  const boost::asio::ip::tcp::endpoint any(boost::asio::ip::make_address("::1"), 0);
  boost::system::error_code ec;
  held.open(any.protocol(), ec);
  if (!ec) held.bind(any, ec);
  if (ec) GTEST_SKIP() << "no IPv6 loopback: " << ec.message();
  const uint16_t port = held.local_endpoint().port();
  HttpRequestSpec spec = SpecFor(port);
  spec.host = "::1";
  EXPECT_EQ(Exchange(spec).error, absl::StrCat("http: connection refused to [::1]:", port));
}

TEST_F(HttpExchangeTest, AServerThatClosesWithoutAnsweringIsARetryableReadFailure) {
  RawServer raw("");
  const ExecutionOutcome outcome = Exchange(SpecFor(raw.port(), "/hang-up"));
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, absl::StrCat("http: cannot read the response (127.0.0.1:", raw.port(),
                                        "): end of stream"));
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_EQ(raw.target(), "/hang-up");
}

TEST_F(HttpExchangeTest, AResponseCutShortIsAReadFailure) {
  RawServer raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  const ExecutionOutcome outcome = Exchange(SpecFor(raw.port()));
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, absl::StrCat("http: cannot read the response (127.0.0.1:", raw.port(),
                                        "): partial message"));
}

TEST_F(HttpExchangeTest, AStandardStatusGetsItsStandardReason) {
  RawServer raw("HTTP/1.1 404 Nothing To See\r\nContent-Length: 0\r\n\r\n");
  const ExecutionOutcome outcome = Exchange(SpecFor(raw.port()));
  EXPECT_EQ(outcome.error, "http: 404 Not Found");
  EXPECT_TRUE(outcome.non_retryable);
}

TEST_F(HttpExchangeTest, AnUnknownStatusKeepsTheServersReason) {
  RawServer raw("HTTP/1.1 555 Upstream Gave Up\r\nContent-Length: 0\r\n\r\n");
  const ExecutionOutcome outcome = Exchange(SpecFor(raw.port()));
  EXPECT_EQ(outcome.error, "http: 555 Upstream Gave Up");
  EXPECT_FALSE(outcome.non_retryable);  // a 5xx
}

TEST_F(HttpExchangeTest, ResponseHeadersReachTheOutput) {
  RawServer raw(
      "HTTP/1.1 201 Created\r\nX-One: 1\r\nX-Two: 2\r\nContent-Type: text/plain\r\n"
      "Content-Length: 4\r\n\r\nmade");
  const ExecutionOutcome outcome = Exchange(SpecFor(raw.port()));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(outcome.output.at("status"), 201);
  EXPECT_EQ(outcome.output.at("headers").at("x-one"), "1");
  EXPECT_EQ(outcome.output.at("headers").at("x-two"), "2");
  EXPECT_EQ(outcome.output.at("body"), "made");
}

TEST_F(HttpExchangeTest, ABodyOverTheLimitFailsForGood) {
  RawServer raw(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", kMaxHttpResponseBodyBytes + 1,
                             "\r\n\r\n"));
  const ExecutionOutcome outcome = Exchange(SpecFor(raw.port()));
  EXPECT_EQ(outcome.error, "http: response body exceeds 8 MiB");
  EXPECT_TRUE(outcome.non_retryable);
}

TEST_F(HttpExchangeTest, TimeoutCoversTheWholeExchange) {
  StartServer([](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply;
    reply.hold = absl::Seconds(30);
    return reply;
  });
  HttpRequestSpec spec = SpecFor(server_->port());
  spec.timeout_ms = 300;
  const absl::Time start = absl::Now();
  const ExecutionOutcome outcome = Exchange(spec);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_THAT(outcome.error,
              ::testing::MatchesRegex(absl::StrCat(
                  "http: timed out after 300 ms \\((connect|send the request|read the response) "
                  "127\\.0\\.0\\.1:",
                  server_->port(), "\\)")));
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_TRUE(server_->WaitForClientCloses(1, kWait));
}

// Exchanges sharing a pool that keeps connections (the daemon's default).
class PooledHttpExchangeTest : public HttpExchangeTest {
 protected:
  void UsePool(ConnectionPoolOptions pool, ProxyConfig proxy = {}) {
    HttpTransportOptions options;
    options.pool = pool;
    options.proxy = std::move(proxy);
    transport_ = std::make_shared<HttpTransport>(io_, /*tls=*/nullptr, /*egress=*/nullptr,
                                                 std::move(options));
  }
  // Runs the loop until `n` outcomes arrived (idle connections keep it from running out of
  // work); false if that took longer than kRunLimit.
  bool RunUntilOutcomes(size_t n) {
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + kRunLimit;
    while (outcomes_.size() < n && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    return outcomes_.size() >= n;
  }
  ExecutionOutcome ExchangeOne(HttpRequestSpec spec) {
    const size_t before = outcomes_.size();
    Make(std::move(spec))->Start();
    EXPECT_TRUE(RunUntilOutcomes(before + 1));
    return outcomes_.size() > before ? outcomes_[before] : ExecutionOutcome::Failure("no outcome");
  }
};

TEST_F(PooledHttpExchangeTest, SequentialRequestsShareOneKeptAliveConnection) {
  UsePool({});
  StartServer(Ok);
  for (int i = 0; i < 20; ++i) {
    const ExecutionOutcome outcome = ExchangeOne(SpecFor(server_->port()));
    ASSERT_TRUE(outcome.success) << i << ": " << outcome.error;
  }
  EXPECT_EQ(server_->accepts(), 1u);
  ASSERT_EQ(server_->requests().size(), 20u);
  EXPECT_EQ(server_->requests()[0].Header("connection"), "");  // HTTP/1.1: kept alive
  const ConnectionPoolStats stats = transport_->pool().stats();
  EXPECT_EQ(stats.opened, 1u);
  EXPECT_EQ(stats.reused, 19u);
  EXPECT_EQ(stats.idle, 1u);
}

TEST_F(PooledHttpExchangeTest, ConcurrentRequestsStayWithinTheBoundPerHost) {
  UsePool({.max_per_host = 4, .max_total = 100, .idle_timeout = std::chrono::seconds(30)});
  StartServer(Ok);
  for (int i = 0; i < 200; ++i) Make(SpecFor(server_->port(), absl::StrCat("/", i)))->Start();
  ASSERT_TRUE(RunUntilOutcomes(200));
  for (const ExecutionOutcome& outcome : outcomes_) ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(server_->requests().size(), 200u);
  EXPECT_LE(server_->accepts(), 4u);
  EXPECT_EQ(transport_->pool().stats().opened, server_->accepts());
  EXPECT_EQ(transport_->pool().stats().waiting, 0u);
}

TEST_F(PooledHttpExchangeTest, AConnectionTheServerClosesIsNotReused) {
  UsePool({});
  StartServer([](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply = Ok({});
    reply.close = true;
    return reply;
  });
  ASSERT_TRUE(ExchangeOne(SpecFor(server_->port())).success);
  ASSERT_TRUE(ExchangeOne(SpecFor(server_->port())).success);
  EXPECT_EQ(server_->accepts(), 2u);
  EXPECT_EQ(transport_->pool().stats().reused, 0u);
  EXPECT_EQ(transport_->pool().stats().idle, 0u);
}

TEST_F(PooledHttpExchangeTest, AKeptConnectionTheServerHungUpOnIsReplaced) {
  UsePool({});
  StartServer([](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply = Ok({});
    reply.hang_up = true;  // says keep-alive, closes anyway
    return reply;
  });
  ASSERT_TRUE(ExchangeOne(SpecFor(server_->port())).success);
  // Whether the close arrived before the next request (the idle connection is dropped) or not
  // (the request breaks on it and is sent again), the next request is answered.
  const ExecutionOutcome second = ExchangeOne(SpecFor(server_->port()));
  ASSERT_TRUE(second.success) << second.error;
  EXPECT_EQ(server_->accepts(), 2u);
}

TEST_F(PooledHttpExchangeTest, AnIdempotentRequestOnABrokenKeptConnectionIsSentAgainOnANewOne) {
  UsePool({});
  std::atomic<int> seen{0};
  StartServer([&seen](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply = Ok({});
    reply.drop = ++seen == 2;  // the second request, on the kept connection, gets no answer
    return reply;
  });
  ASSERT_TRUE(ExchangeOne(SpecFor(server_->port())).success);
  const ExecutionOutcome outcome = ExchangeOne(SpecFor(server_->port(), "/again"));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(server_->accepts(), 2u);
  const std::vector<HttpTestServer::Request> requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].target, "/again");
  EXPECT_EQ(requests[2].target, "/again");
}

TEST_F(PooledHttpExchangeTest, APostThatReachedABrokenConnectionIsNotSentAgain) {
  UsePool({});
  std::atomic<int> seen{0};
  StartServer([&seen](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply = Ok({});
    reply.drop = ++seen == 2;
    return reply;
  });
  ASSERT_TRUE(ExchangeOne(SpecFor(server_->port())).success);
  HttpRequestSpec post = SpecFor(server_->port(), "/charge");
  post.method = "POST";
  post.body = "{}";
  const ExecutionOutcome outcome = ExchangeOne(post);
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, absl::StrCat("http: cannot read the response (127.0.0.1:",
                                        server_->port(), "): end of stream"));
  EXPECT_FALSE(outcome.non_retryable);  // the scheduler's retry policy decides
  EXPECT_EQ(server_->requests().size(), 2u);
}

TEST_F(PooledHttpExchangeTest, AbortWhileQueuedForAConnectionLeavesTheQueue) {
  UsePool({.max_per_host = 1, .max_total = 10, .idle_timeout = std::chrono::seconds(30)});
  absl::Notification release;
  StartServer([&release](const HttpTestServer::Request& request) {
    if (request.target == "/slow") release.WaitForNotificationWithTimeout(kWait);
    return Ok(request);
  });
  Make(SpecFor(server_->port(), "/slow"))->Start();
  std::shared_ptr<HttpExchange> queued = Make(SpecFor(server_->port(), "/queued"));
  queued->Start();
  EXPECT_EQ(transport_->pool().stats().waiting, 1u);
  queued->Abort();
  EXPECT_EQ(transport_->pool().stats().waiting, 0u);
  release.Notify();
  ASSERT_TRUE(RunUntilOutcomes(1));
  const ExecutionOutcome third = ExchangeOne(SpecFor(server_->port(), "/third"));
  EXPECT_TRUE(third.success) << third.error;
  ASSERT_EQ(outcomes_.size(), 2u);  // nothing from the aborted one
  std::vector<std::string> targets;
  for (const auto& r : server_->requests()) targets.push_back(r.target);
  EXPECT_THAT(targets, ::testing::ElementsAre("/slow", "/third"));
  EXPECT_EQ(server_->accepts(), 1u);
}

TEST_F(PooledHttpExchangeTest, AnHttpRequestThroughAProxyIsSentInAbsoluteFormWithCredentials) {
  absl::StatusOr<std::unique_ptr<testing::ProxyTestServer>> proxy =
      testing::ProxyTestServer::Start({.required_authorization = "Basic dXNlcjpwQHNz"});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  absl::StatusOr<ProxyConfig> config =
      ProxyConfig::Make(absl::StrCat("http://user:p%40ss@127.0.0.1:", (*proxy)->port()), "", "");
  ASSERT_TRUE(config.ok()) << config.status();
  UsePool({}, *config);
  StartServer(Ok);
  const ExecutionOutcome outcome = ExchangeOne(SpecFor(server_->port(), "/via?x=1"));
  ASSERT_TRUE(outcome.success) << outcome.error;
  const std::vector<testing::ProxyTestServer::Request> seen = (*proxy)->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, absl::StrCat("http://127.0.0.1:", server_->port(), "/via?x=1"));
  EXPECT_EQ(seen[0].authorization, "Basic dXNlcjpwQHNz");  // user:p@ss
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].target, "/via?x=1");
  EXPECT_EQ(server_->requests()[0].Header("proxy-authorization"), "");  // not passed on
}

TEST_F(PooledHttpExchangeTest, NoProxyNamesWhatIsReachedDirectly) {
  absl::StatusOr<std::unique_ptr<testing::ProxyTestServer>> proxy =
      testing::ProxyTestServer::Start({});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  absl::StatusOr<ProxyConfig> config =
      ProxyConfig::Make((*proxy)->Url(), "", "example.com,127.0.0.0/8");
  ASSERT_TRUE(config.ok()) << config.status();
  UsePool({}, *config);
  StartServer(Ok);
  ASSERT_TRUE(ExchangeOne(SpecFor(server_->port())).success);
  EXPECT_THAT((*proxy)->requests(), IsEmpty());
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(PooledHttpExchangeTest, AProxyThatWantsCredentialsFailsTheRequestNamingIt) {
  absl::StatusOr<std::unique_ptr<testing::ProxyTestServer>> proxy =
      testing::ProxyTestServer::Start({.required_authorization = "Basic eDp5"});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  UsePool({}, *ProxyConfig::Make((*proxy)->Url(), "", ""));
  StartServer(Ok);
  const ExecutionOutcome outcome = ExchangeOne(SpecFor(server_->port()));
  EXPECT_EQ(outcome.error, "http: 407 Proxy Authentication Required");
  EXPECT_TRUE(outcome.non_retryable);
  EXPECT_THAT(server_->requests(), IsEmpty());
}

TEST_F(PooledHttpExchangeTest, AProxyNobodyListensOnIsNamedInTheError) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor held(io);
  const boost::asio::ip::tcp::endpoint any(boost::asio::ip::make_address("127.0.0.1"), 0);
  held.open(any.protocol());
  held.bind(any);
  const uint16_t port = held.local_endpoint().port();
  UsePool({}, *ProxyConfig::Make(absl::StrCat("127.0.0.1:", port), "", ""));
  const ExecutionOutcome outcome = ExchangeOne(SpecFor(9));
  EXPECT_EQ(outcome.error, absl::StrCat("http: connection refused to the proxy 127.0.0.1:", port));
  EXPECT_FALSE(outcome.non_retryable);
}

}  // namespace
}  // namespace batchd::core
