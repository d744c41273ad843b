// The http executor in the real daemon against a local HTTP server started by the test: status
// codes, retries (none for 4xx, Retry-After for 503, policy for refused connections) and
// timeouts that close the connection. Loopback only; waits bounded and generous.
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

}  // namespace
}  // namespace batchd
