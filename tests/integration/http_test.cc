// The http executor in the real daemon against a local HTTP server started by the test: status
// codes, retries (none for 4xx, Retry-After for 503, policy for refused connections), timeouts
// that close the connection, and redirects (followed to the final answer, bounded, by method,
// credentials dropped when leaving the origin). Loopback only; waits bounded and generous.
#include <grpcpp/client_context.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"
#include "tests/testing/http_test_server.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::batchd::testing::HttpTestServer;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr std::chrono::seconds kCallTimeout{60};
constexpr absl::Duration kWait = absl::Seconds(20);

v1::Task* AddHttp(v1::ProcessBatchRequest& request, const std::string& id, const std::string& url) {
  v1::Task* task = request.add_tasks();
  task->set_id(id);
  task->set_executor("http");
  (*task->mutable_input()->mutable_struct_value()->mutable_fields())["url"].set_string_value(url);
  return task;
}

void SetFixedRetry(v1::Task* task, uint32_t delay_ms, uint32_t max_retries) {
  task->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
  task->mutable_retry_policy()->set_initial_delay_ms(delay_ms);
  task->mutable_retry_policy()->set_max_retries(max_retries);
}

const google::protobuf::Value& Field(const google::protobuf::Value& value,
                                     const std::string& name) {
  return value.struct_value().fields().at(name);
}

HttpTestServer::Reply MakeReply(unsigned status,
                                std::vector<std::pair<std::string, std::string>> headers = {},
                                std::string body = "") {
  HttpTestServer::Reply reply;
  reply.status = status;
  reply.headers = std::move(headers);
  reply.body = std::move(body);
  return reply;
}

// A loopback port nothing listens on: bound, then released.
uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

class HttpTest : public testing::DaemonTestBase {
 protected:
  void Serve(HttpTestServer::Handler handler) {
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server =
        HttpTestServer::Start(std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // The single result of a one-task batch run with ProcessBatch.
  v1::TaskResult ProcessOne(const v1::ProcessBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    grpc::Status status = batches_->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    EXPECT_EQ(response.summary().results_size(), 1) << response.DebugString();
    return response.summary().results_size() == 1 ? response.summary().results(0)
                                                  : v1::TaskResult();
  }

  std::unique_ptr<HttpTestServer> server_;
};

TEST_F(HttpTest, IsListedAsABuiltinExecutor) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::ListExecutorsResponse response;
  ASSERT_TRUE(batches_->ListExecutors(&context, v1::ListExecutorsRequest(), &response).ok());
  bool found = false;
  for (const v1::ExecutorInfo& executor : response.executors()) {
    if (executor.name() == "http") {
      found = true;
      EXPECT_EQ(executor.kind(), "builtin");
    }
  }
  EXPECT_TRUE(found) << response.DebugString();
}

TEST_F(HttpTest, OkResponseSucceedsWithStatusAndParsedBody) {
  Serve([](const HttpTestServer::Request&) {
    return MakeReply(200, {{"Content-Type", "application/json"}}, R"({"n": 42})");
  });
  v1::ProcessBatchRequest request;
  AddHttp(request, "get", server_->Url("/ok"));
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.DebugString();
  EXPECT_EQ(Field(result.output(), "status").number_value(), 200);
  EXPECT_EQ(Field(Field(result.output(), "body"), "n").number_value(), 42);
  EXPECT_EQ(Field(Field(result.output(), "headers"), "content-type").string_value(),
            "application/json");
  EXPECT_GE(Field(result.output(), "elapsed_ms").number_value(), 0);
  EXPECT_FALSE(result.output().struct_value().fields().contains("url"));  // not redirected
}

void SetInput(v1::Task* task, const std::string& name, google::protobuf::Value value) {
  (*task->mutable_input()->mutable_struct_value()->mutable_fields())[name] = std::move(value);
}

google::protobuf::Value StringValue(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

TEST_F(HttpTest, RedirectsAreFollowedToTheFinalAnswer) {
  std::string final_url;
  Serve([&final_url](const HttpTestServer::Request& r) {
    if (r.target == "/start") return MakeReply(302, {{"Location", "next?x=1"}});
    if (r.target == "/next?x=1") return MakeReply(301, {{"Location", final_url}});
    return MakeReply(200, {{"Content-Type", "application/json"}}, R"({"done": true})");
  });
  final_url = server_->Url("/final");
  v1::ProcessBatchRequest request;
  AddHttp(request, "get", server_->Url("/start"));
  const v1::TaskResult result = ProcessOne(request);
  ASSERT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.DebugString();
  EXPECT_EQ(Field(result.output(), "status").number_value(), 200);
  EXPECT_TRUE(Field(Field(result.output(), "body"), "done").bool_value());
  EXPECT_EQ(Field(result.output(), "url").string_value(), final_url);
  std::vector<std::string> targets;
  for (const HttpTestServer::Request& r : server_->requests()) targets.push_back(r.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/start", "/next?x=1", "/final"}));
}

TEST_F(HttpTest, ARedirectLoopStopsAtTheBoundWithoutRetry) {
  Serve([](const HttpTestServer::Request&) { return MakeReply(302, {{"Location", "/loop"}}); });
  v1::ProcessBatchRequest request;
  v1::Task* task = AddHttp(request, "loop", server_->Url("/loop"));
  SetFixedRetry(task, 10, 3);
  google::protobuf::Value two;
  two.set_number_value(2);
  SetInput(task, "max_redirects", two);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(result.error(),
            absl::StrCat("http: stopped after 2 redirects: ", server_->Url("/loop"),
                         " redirects again (input.max_redirects raises the bound)"));
  EXPECT_EQ(server_->requests().size(), 3u);

  // max_redirects 0: the redirect itself is the answer.
  v1::ProcessBatchRequest unfollowed;
  google::protobuf::Value zero;
  zero.set_number_value(0);
  SetInput(AddHttp(unfollowed, "raw", server_->Url("/loop")), "max_redirects", zero);
  const v1::TaskResult raw = ProcessOne(unfollowed);
  EXPECT_EQ(raw.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(Field(raw.output(), "status").number_value(), 302);
  EXPECT_EQ(Field(Field(raw.output(), "headers"), "location").string_value(), "/loop");
}

TEST_F(HttpTest, APostFollowsOnly307And308KeepingItsBody) {
  Serve([](const HttpTestServer::Request& r) {
    if (r.target == "/found") return MakeReply(302, {{"Location", "/elsewhere"}});
    if (r.target == "/temporary") return MakeReply(307, {{"Location", "/kept"}});
    return MakeReply(200, {}, absl::StrCat(r.method, " ", r.body));
  });
  for (const char* target : {"/found", "/temporary"}) {
    v1::ProcessBatchRequest request;
    v1::Task* task = AddHttp(request, "post", server_->Url(target));
    SetInput(task, "method", StringValue("POST"));
    SetInput(task, "body", StringValue("payload"));
    const v1::TaskResult result = ProcessOne(request);
    ASSERT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.DebugString();
    if (std::string(target) == "/found") {
      EXPECT_EQ(Field(result.output(), "status").number_value(), 302);  // not followed
    } else {
      EXPECT_EQ(Field(result.output(), "body").string_value(), "POST payload");
    }
  }
  std::vector<std::string> targets;
  for (const HttpTestServer::Request& r : server_->requests()) targets.push_back(r.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/found", "/temporary", "/kept"}));
}

TEST_F(HttpTest, CredentialsAreDroppedWhenARedirectLeavesTheOrigin) {
  absl::StatusOr<std::unique_ptr<HttpTestServer>> other =
      HttpTestServer::Start([](const HttpTestServer::Request&) { return MakeReply(200); });
  ASSERT_TRUE(other.ok());
  const std::string elsewhere = (*other)->Url("/landing");
  Serve([elsewhere](const HttpTestServer::Request& r) {
    if (r.target == "/same") return MakeReply(302, {{"Location", "/landing"}});
    if (r.target == "/away") return MakeReply(302, {{"Location", elsewhere}});
    return MakeReply(200);
  });
  for (const char* target : {"/same", "/away"}) {
    v1::ProcessBatchRequest request;
    v1::Task* task = AddHttp(request, "get", server_->Url(target));
    google::protobuf::Value headers;
    (*headers.mutable_struct_value()->mutable_fields())["Authorization"].set_string_value(
        "Bearer t0k3n");
    (*headers.mutable_struct_value()->mutable_fields())["X-Trace"].set_string_value("7");
    SetInput(task, "headers", headers);
    ASSERT_EQ(ProcessOne(request).state(), v1::TASK_STATE_SUCCEEDED);
  }
  const std::vector<HttpTestServer::Request> here = server_->requests();
  ASSERT_EQ(here.size(), 3u);  // /same, /landing, /away
  EXPECT_EQ(here[1].target, "/landing");
  EXPECT_EQ(here[1].Header("authorization"), "Bearer t0k3n");
  const std::vector<HttpTestServer::Request> there = (*other)->requests();
  ASSERT_EQ(there.size(), 1u);
  EXPECT_EQ(there[0].Header("authorization"), "");
  EXPECT_EQ(there[0].Header("x-trace"), "7");
}

TEST_F(HttpTest, NotFoundIsNotRetried) {
  Serve([](const HttpTestServer::Request&) { return MakeReply(404); });
  v1::ProcessBatchRequest request;
  SetFixedRetry(AddHttp(request, "missing", server_->Url("/missing")), 50, 3);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.error(), "http: 404 Not Found");
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(Field(result.output(), "status").number_value(), 404);
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(HttpTest, ServiceUnavailableRetriesAfterRetryAfter) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  Serve([calls](const HttpTestServer::Request&) {
    if (calls->fetch_add(1) == 0) return MakeReply(503, {{"Retry-After", "1"}});
    return MakeReply(200, {{"Content-Type", "text/plain"}}, "done");
  });
  v1::ProcessBatchRequest request;
  // The policy alone would retry after 50 ms: the server's Retry-After must win.
  SetFixedRetry(AddHttp(request, "busy", server_->Url("/busy")), 50, 3);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.DebugString();
  // A 503 is a throttled attempt: it runs again without spending the retry budget (issue 18).
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(Field(result.output(), "body").string_value(), "done");
  const std::vector<HttpTestServer::Request> seen = server_->requests();
  ASSERT_EQ(seen.size(), 2u);
  const absl::Duration gap = seen[1].received_at - seen[0].received_at;
  EXPECT_GE(gap, absl::Milliseconds(950)) << gap;
  std::cout << "503 Retry-After: 1 -> second request after " << gap << std::endl;
}

TEST_F(HttpTest, ConnectionRefusedIsRetriedByThePolicy) {
  const uint16_t port = ClosedPort();
  v1::ProcessBatchRequest request;
  SetFixedRetry(AddHttp(request, "refused", absl::StrCat("http://127.0.0.1:", port, "/")), 50, 2);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 2u);
  EXPECT_EQ(result.error(), absl::StrCat("http: connection refused to 127.0.0.1:", port));
}

TEST_F(HttpTest, BadUrlFailsWithoutRetry) {
  v1::ProcessBatchRequest request;
  SetFixedRetry(AddHttp(request, "ftp", "ftp://127.0.0.1/"), 50, 3);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(result.error(),
            "http: input.url 'ftp://127.0.0.1/' is not a valid http:// or https:// URL: it must "
            "start with http:// or https://");
}

TEST_F(HttpTest, TaskTimeoutClosesTheConnection) {
  Serve([](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply;
    reply.hold = absl::Seconds(10);
    return reply;
  });
  v1::ProcessBatchRequest request;
  AddHttp(request, "slow", server_->Url("/slow"))->set_timeout_ms(300);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(result.error(), "Timeout after 300 ms");
  // The server saw the request and then its connection closed, well before its 10 s hold.
  EXPECT_TRUE(server_->WaitForClientCloses(1, kWait));
}

TEST_F(HttpTest, TheCloudMetadataAddressIsDeniedByDefaultWithoutRetry) {
  v1::ProcessBatchRequest request;
  SetFixedRetry(AddHttp(request, "imds", "http://169.254.169.254/latest/meta-data/"), 10, 3);
  const v1::TaskResult result = ProcessOne(request);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(result.error(),
            "http: egress to 169.254.169.254:80 is denied by rule '169.254.0.0/16' (denied by "
            "default: link-local and cloud metadata addresses; --http-allow can name it)");
}

// A daemon denying loopback: a name that resolves to it is denied on its address.
class HttpEgressTest : public HttpTest {
 protected:
  std::vector<std::string> DaemonFlags() const override {
    return {"--http-deny=127.0.0.0/8,::1", "--http-allow="};
  }
};

TEST_F(HttpEgressTest, ANameResolvingToADeniedAddressIsDenied) {
  Serve([](const HttpTestServer::Request&) { return MakeReply(200); });
  for (const std::string& url :
       {server_->Url("/"), absl::StrCat("http://localhost:", server_->port(), "/")}) {
    v1::ProcessBatchRequest request;
    SetFixedRetry(AddHttp(request, "get", url), 10, 3);
    const v1::TaskResult result = ProcessOne(request);
    EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
    EXPECT_EQ(result.retry_count(), 0u);
    EXPECT_THAT(result.error(), ::testing::HasSubstr("is denied by rule '"));
    EXPECT_THAT(result.error(), ::testing::HasSubstr("(--http-deny)"));
  }
  EXPECT_THAT(ProcessOne([&] {
                v1::ProcessBatchRequest r;
                AddHttp(r, "get", absl::StrCat("http://localhost:", server_->port(), "/"));
                return r;
              }())
                  .error(),
              ::testing::StartsWith(
                  absl::StrCat("http: egress to localhost:", server_->port(), " (resolved to ")));
  EXPECT_TRUE(server_->requests().empty());
}

TEST(HttpEgressFlagsTest, ABadRuleStopsBatchdNamingIt) {
  absl::StatusOr<testing::CommandResult> run =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--durability=none",
                           "--http-deny=10.0.0.0/40"},
                          absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text,
              ::testing::HasSubstr(
                  "invalid --http-deny rule '10.0.0.0/40': the prefix length must be at most 32"));
}

}  // namespace
}  // namespace batchd
