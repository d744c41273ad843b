// HttpExecutor against a real HTTP server on loopback (tests/testing/http_test_server.h): real
// sockets, so waits are bounded and generous rather than simulated; nothing here sleeps.
#include "core/executors/http/http_executor.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/executors/http/tls_client_context.h"
#include "gtest/gtest.h"
#include "tests/testing/http_test_server.h"

namespace batchd::core {
namespace {

using ::batchd::testing::HttpTestServer;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr absl::Duration kWait = absl::Seconds(20);

class RecordingSink final : public CompletionSink {
 public:
  void Complete(const AttemptToken& token, ExecutionOutcome outcome) override {
    absl::MutexLock lock(&mu_);
    outcomes_.emplace_back(token, std::move(outcome));
    changed_.SignalAll();
  }
  // The outcome of `token`, waiting up to kWait for it.
  std::optional<ExecutionOutcome> Wait(const AttemptToken& token) {
    const absl::Time deadline = absl::Now() + kWait;
    absl::MutexLock lock(&mu_);
    while (true) {
      for (const auto& [t, outcome] : outcomes_) {
        if (t == token) return outcome;
      }
      if (changed_.WaitWithDeadline(&mu_, deadline)) return std::nullopt;
    }
  }
  size_t count(const AttemptToken& token) const {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const auto& entry : outcomes_) n += entry.first == token ? 1 : 0;
    return n;
  }

 private:
  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<std::pair<AttemptToken, ExecutionOutcome>> outcomes_ ABSL_GUARDED_BY(mu_);
};

HttpTestServer::Reply Route(const HttpTestServer::Request& request) {
  HttpTestServer::Reply reply;
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/ok") {
    reply.headers = {{"Content-Type", "application/json"}};
    reply.body = R"({"hello":"world"})";
  } else if (path == "/text") {
    reply.headers = {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Test", "yes"}};
    reply.body = "plain text";
  } else if (path == "/missing") {
    reply.status = 404;
    reply.body = "no such thing";
  } else if (path == "/busy") {
    reply.status = 503;
    reply.headers = {{"Retry-After", "2"}};
  } else if (path == "/slow") {
    reply.hold = absl::Seconds(5);
  } else if (path == "/echo") {
    boost::json::object headers;
    for (const auto& [name, value] : request.headers) headers[name] = value;
    reply.headers = {{"Content-Type", "application/vnd.batchd+json"}};
    reply.body = boost::json::serialize(boost::json::object{{"method", request.method},
                                                            {"target", request.target},
                                                            {"headers", headers},
                                                            {"body", request.body}});
  } else if (path == "/binary") {
    reply.headers = {{"Content-Type", "application/octet-stream"}};
    reply.body = "ok\xff\xfe!";
  } else if (path == "/bad-json") {
    reply.headers = {{"Content-Type", "application/json"}};
    reply.body = "{not json";
  } else if (path == "/big") {
    reply.body = std::string(kMaxHttpResponseBodyBytes + 1, 'x');
  } else {
    reply.status = 500;
  }
  return reply;
}

class HttpExecutorTest : public ::testing::Test {
 protected:
  HttpExecutorTest()
      : strand_(boost::asio::make_strand(io_)),
        work_(boost::asio::make_work_guard(io_)),
        executor_(strand_, clock_,
                  std::make_shared<HttpTransport>(io_, *MakeTlsClientContext(""),
                                                  std::make_shared<EgressPolicy>(),
                                                  HttpTransportOptions{})) {
    // Two threads, as the daemon runs: requests and the "scheduler" strand run concurrently.
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server = HttpTestServer::Start(Route);
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }
  ~HttpExecutorTest() override {
    server_.reset();  // cuts held connections, so requests in flight finish
    work_.reset();
    io_.stop();
    for (std::thread& t : threads_) t.join();
  }

  // Starts an attempt on the strand, as the scheduler does; returns its token.
  AttemptToken Start(boost::json::value input) {
    const AttemptToken token{1, next_task_++, 0};
    OnStrand([&] {
      ExecutionRequest request{token, "batch", "task", input, 0, 0, 30000, {}};
      executor_.Start(request, sink_);
    });
    return token;
  }
  void Cancel(const AttemptToken& token) {
    OnStrand([&] { executor_.Cancel(token); });
  }
  // Runs `f` on the strand and waits for it.
  template <typename F>
  void OnStrand(F f) {
    absl::Notification done;
    boost::asio::post(strand_, [&] {
      f();
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  }
  ExecutionOutcome Run(boost::json::value input) {
    const AttemptToken token = Start(std::move(input));
    std::optional<ExecutionOutcome> outcome = sink_.Wait(token);
    EXPECT_TRUE(outcome.has_value()) << "no outcome within " << kWait;
    return outcome.value_or(ExecutionOutcome::Failure("test: no outcome"));
  }
  ExecutionOutcome Get(const std::string& path) {
    return Run(boost::json::object{{"url", server_->Url(path)}});
  }

  boost::asio::io_context io_;
  HttpExecutor::Strand strand_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  SystemClock clock_;
  HttpExecutor executor_;
  RecordingSink sink_;
  std::unique_ptr<HttpTestServer> server_;
  std::vector<std::thread> threads_;
  uint32_t next_task_ = 0;
};

TEST_F(HttpExecutorTest, JsonResponseBodyIsParsed) {
  ExecutionOutcome outcome = Get("/ok");
  ASSERT_TRUE(outcome.success) << outcome.error;
  const boost::json::object& output = outcome.output.as_object();
  EXPECT_EQ(output.at("status"), 200);
  EXPECT_EQ(output.at("body"), (boost::json::object{{"hello", "world"}}));
  EXPECT_EQ(output.at("headers").at("content-type"), "application/json");
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].method, "GET");
  EXPECT_EQ(server_->requests()[0].Header("host"), absl::StrCat("127.0.0.1:", server_->port()));
}

TEST_F(HttpExecutorTest, TextResponseBodyIsAStringAndHeadersAreReported) {
  ExecutionOutcome outcome = Get("/text?x=1");
  ASSERT_TRUE(outcome.success) << outcome.error;
  const boost::json::object& output = outcome.output.as_object();
  EXPECT_EQ(output.at("body"), "plain text");
  EXPECT_EQ(output.at("headers").at("x-test"), "yes");
  EXPECT_EQ(output.at("headers").at("content-length"), "10");
  EXPECT_EQ(server_->requests().at(0).target, "/text?x=1");
}

TEST_F(HttpExecutorTest, JsonBodyIsSentAsJsonTextWithContentType) {
  ExecutionOutcome outcome = Run(boost::json::object{{"method", "POST"},
                                                     {"url", server_->Url("/echo")},
                                                     {"headers", {{"X-Trace", "t-1"}}},
                                                     {"body", {{"a", 1}, {"b", {true, nullptr}}}}});
  ASSERT_TRUE(outcome.success) << outcome.error;
  const HttpTestServer::Request request = server_->requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, R"({"a":1,"b":[true,null]})");
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("x-trace"), "t-1");
  // A +json media type is parsed too.
  EXPECT_EQ(outcome.output.at("body").at("method"), "POST");
  EXPECT_EQ(outcome.output.at("body").at("body"), R"({"a":1,"b":[true,null]})");
}

TEST_F(HttpExecutorTest, StringBodyIsSentAsIsWithTheCallersContentType) {
  ExecutionOutcome outcome = Run(boost::json::object{{"method", "PUT"},
                                                     {"url", server_->Url("/echo")},
                                                     {"headers", {{"content-type", "text/csv"}}},
                                                     {"body", "a,b\n1,2\n"}});
  ASSERT_TRUE(outcome.success) << outcome.error;
  const HttpTestServer::Request request = server_->requests().at(0);
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.body, "a,b\n1,2\n");
  EXPECT_EQ(request.Header("content-type"), "text/csv");
}

TEST_F(HttpExecutorTest, HeadDoesNotWaitForTheAnnouncedBody) {
  ExecutionOutcome outcome =
      Run(boost::json::object{{"method", "HEAD"}, {"url", server_->Url("/ok")}});
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(outcome.output.at("status"), 200);
  EXPECT_EQ(outcome.output.at("body"), "");
}

TEST_F(HttpExecutorTest, NotFoundIsFinal) {
  ExecutionOutcome outcome = Get("/missing");
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, "http: 404 Not Found");
  EXPECT_TRUE(outcome.non_retryable);
  EXPECT_FALSE(outcome.retry_after_ms.has_value());
  EXPECT_EQ(outcome.output.at("status"), 404);
  EXPECT_EQ(outcome.output.at("body"), "no such thing");
}

TEST_F(HttpExecutorTest, ServiceUnavailableIsRetriedAfterRetryAfter) {
  ExecutionOutcome outcome = Get("/busy");
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, "http: 503 Service Unavailable (retry after 2000 ms)");
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_EQ(outcome.retry_after_ms, 2000u);
  EXPECT_EQ(outcome.output.at("headers").at("retry-after"), "2");
}

TEST_F(HttpExecutorTest, OtherServerErrorsAreRetryable) {
  ExecutionOutcome outcome = Get("/unrouted");
  EXPECT_EQ(outcome.error, "http: 500 Internal Server Error");
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_FALSE(outcome.retry_after_ms.has_value());
}

TEST_F(HttpExecutorTest, ConnectionRefusedIsRetryable) {
  uint16_t port = 0;
  {
    // A port that was just free: bound, then closed without listening.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }
  ExecutionOutcome outcome =
      Run(boost::json::object{{"url", absl::StrCat("http://127.0.0.1:", port, "/")}});
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, absl::StrCat("http: connection refused to 127.0.0.1:", port));
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_TRUE(outcome.output.is_null());
}

TEST_F(HttpExecutorTest, BadInputFailsAtOnceNamingTheField) {
  const std::pair<boost::json::value, std::string> cases[] = {
      {boost::json::object{{"url", "ftp://example.com/"}},
       "http: input.url 'ftp://example.com/' is not a valid http:// or https:// URL: it must "
       "start with http:// or https://"},
      {boost::json::object{{"url", "https:///"}},
       "http: input.url 'https:///' is not a valid http:// or https:// URL: the host is empty"},
      {boost::json::object{{"url", "http://127.0.0.1:99999/"}},
       "http: input.url 'http://127.0.0.1:99999/' is not a valid http:// or https:// URL: the port "
       "must be "
       "a number from 1 to 65535"},
      {boost::json::object{{"url", "http:///path"}},
       "http: input.url 'http:///path' is not a valid http:// or https:// URL: the host is empty"},
      {boost::json::object{}, "http: input.url is required"},
      {boost::json::object{{"url", 7}}, "http: input.url must be a string"},
      {boost::json::object{{"url", "http://h/"}, {"method", "FETCH"}},
       "http: input.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
      {boost::json::object{{"url", "http://h/"}, {"headers", {{"X-N", 1}}}},
       "http: input.headers.X-N must be a string"},
      {boost::json::object{{"url", "http://h/"}, {"headers", {{"X", "a\r\nEvil: 1"}}}},
       "http: input.headers.X must not contain CR, LF or NUL"},
      {boost::json::object{{"url", "http://h/"}, {"timeout_ms", -5}},
       "http: input.timeout_ms must be a whole number of milliseconds from 1 to 86400000"},
      {boost::json::value("http://h/"),
       "http: input must be an object {\"url\": ..., \"method\", \"headers\", \"body\", "
       "\"timeout_ms\"}"},
  };
  for (const auto& [input, error] : cases) {
    ExecutionOutcome outcome = Run(input);
    EXPECT_FALSE(outcome.success) << input;
    EXPECT_EQ(outcome.error, error) << input;
    EXPECT_TRUE(outcome.non_retryable) << input;
  }
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(HttpExecutorTest, CancelClosesTheConnectionAndReportsNothing) {
  const AttemptToken slow = Start(boost::json::object{{"url", server_->Url("/slow")}});
  ASSERT_TRUE(server_->WaitForRequests(1, kWait));
  Cancel(slow);
  // The server sees the close while it is still holding its reply (5 s).
  ASSERT_TRUE(server_->WaitForClientCloses(1, kWait));
  // A later request completes normally; the cancelled one never reports.
  ASSERT_TRUE(Get("/ok").success);
  EXPECT_EQ(sink_.count(slow), 0u);
}

TEST_F(HttpExecutorTest, CancelOfAFinishedAttemptIsHarmless) {
  const AttemptToken token = Start(boost::json::object{{"url", server_->Url("/ok")}});
  ASSERT_TRUE(sink_.Wait(token).has_value());
  Cancel(token);
  Cancel(AttemptToken{99, 99, 99});
  EXPECT_EQ(sink_.count(token), 1u);
}

TEST_F(HttpExecutorTest, TimeoutMsLimitsTheRequest) {
  const absl::Time start = absl::Now();
  ExecutionOutcome outcome =
      Run(boost::json::object{{"url", server_->Url("/slow")}, {"timeout_ms", 200}});
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(outcome.error,
            absl::StrCat("http: timed out after 200 ms (read the response 127.0.0.1:",
                         server_->port(), ")"));
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_TRUE(server_->WaitForClientCloses(1, kWait));
}

TEST_F(HttpExecutorTest, OversizedResponseFailsForGood) {
  ExecutionOutcome outcome = Get("/big");
  EXPECT_EQ(outcome.error, "http: response body exceeds 8 MiB");
  EXPECT_TRUE(outcome.non_retryable);
}

TEST_F(HttpExecutorTest, NonJsonBodiesBecomeValidUtf8Strings) {
  EXPECT_EQ(Get("/binary").output.at("body"), "ok\xEF\xBF\xBD\xEF\xBF\xBD!");
  EXPECT_EQ(Get("/bad-json").output.at("body"), "{not json");
}

}  // namespace
}  // namespace batchd::core
