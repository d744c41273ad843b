// BatchClient against the scripted in-process server (tests/testing/fake_batch_service.h), which
// records what reached it (method, request, deadline): each call reaches its RPC with its
// request, answers come back whole, errors keep their code and message, and every call carries
// the deadline its CallTimeouts say (none for ProcessBatch and streams).
#include "client/cpp/batch_client.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_batch_service.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;
using SystemTime = std::chrono::system_clock::time_point;

// Calls with a deadline must reach the server with (about) their timeout left: generous, since
// a loaded machine may take seconds to deliver a call.
constexpr auto kSlack = std::chrono::seconds(5);

class BatchClientTest : public ::testing::Test {
 protected:
  BatchClientTest() {
    // Answers that name what they answer, so a call routed to the wrong method shows.
    batchd::testing::FakeBatchService::LockedScript locked = server_.batch.script();
    batchd::testing::FakeBatchService::Script& script = *locked;
    script.submit.set_batch_id("submitted");
    script.process.mutable_summary()->set_batch_id("processed");
    script.progress.mutable_progress()->set_completed_tasks(3);
    script.batch.mutable_summary()->set_batch_id("got");
    script.list.add_batches()->set_batch_id("first");
    script.list.add_batches()->set_batch_id("second");
    script.cancel.mutable_progress()->set_batch_id("cancelled");
    script.resolve.add_critical_path("a");
    script.resolve.add_critical_path("b");
    script.executors.add_executors()->set_name("echo");
    for (uint32_t completed = 1; completed <= 3; ++completed) {
      script.watch.emplace_back().mutable_progress()->set_completed_tasks(completed);
    }
    v1::StreamResultsResponse& first = script.results.emplace_back();
    first.set_sequence(42);
    first.add_results()->set_task_id("a");
    script.results.emplace_back().mutable_summary()->set_batch_id("summarized");
  }

  BatchClient Client(CallTimeouts timeouts = {}) {
    return BatchClient(server_.channel(), timeouts);
  }

  std::string LastCall() const {
    const std::vector<std::string> calls = server_.log.calls();
    return calls.empty() ? "" : calls.back();
  }
  SystemTime LastDeadline() const {
    const std::vector<SystemTime> deadlines = server_.log.deadlines();
    EXPECT_FALSE(deadlines.empty());
    return deadlines.empty() ? SystemTime() : deadlines.back();
  }
  // The last call's deadline was `timeout` after it was made (within kSlack).
  void ExpectDeadline(std::chrono::milliseconds timeout, SystemTime called) const {
    EXPECT_LE(LastDeadline(), called + kSlack + timeout) << LastCall();
    EXPECT_GE(LastDeadline(), called + timeout) << LastCall();
  }
  void ExpectNoDeadline() const { EXPECT_EQ(LastDeadline(), SystemTime::max()) << LastCall(); }

  batchd::testing::FakeBatchServer server_;
};

TEST_F(BatchClientTest, EachUnaryCallReachesItsMethodWithItsRequest) {
  const BatchClient client = Client();
  v1::SubmitBatchRequest submit;
  submit.set_request_id("r-1");
  v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(client.SubmitBatch(submit, &submitted).ok());
  EXPECT_EQ(submitted.batch_id(), "submitted");

  v1::GetProgressRequest progress_request;
  progress_request.set_batch_id("b-1");
  v1::GetProgressResponse progress;
  ASSERT_TRUE(client.GetProgress(progress_request, &progress).ok());
  EXPECT_EQ(progress.progress().completed_tasks(), 3u);

  v1::GetBatchRequest get;
  get.set_batch_id("b-2");
  v1::GetBatchResponse got;
  ASSERT_TRUE(client.GetBatch(get, &got).ok());
  EXPECT_EQ(got.summary().batch_id(), "got");

  v1::ListBatchesRequest list;
  list.set_limit(2);
  v1::ListBatchesResponse listed;
  ASSERT_TRUE(client.ListBatches(list, &listed).ok());
  ASSERT_EQ(listed.batches_size(), 2);
  EXPECT_EQ(listed.batches(1).batch_id(), "second");

  v1::CancelBatchRequest cancel;
  cancel.set_batch_id("b-3");
  cancel.set_reason("enough");
  v1::CancelBatchResponse cancelled;
  ASSERT_TRUE(client.CancelBatch(cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.progress().batch_id(), "cancelled");

  v1::ResolveExecutionOrderRequest resolve;
  resolve.add_tasks()->set_id("a");
  v1::ResolveExecutionOrderResponse resolved;
  ASSERT_TRUE(client.ResolveExecutionOrder(resolve, &resolved).ok());
  EXPECT_THAT(resolved.critical_path(), ElementsAre("a", "b"));

  v1::ListExecutorsResponse executors;
  ASSERT_TRUE(client.ListExecutors(v1::ListExecutorsRequest(), &executors).ok());
  ASSERT_EQ(executors.executors_size(), 1);
  EXPECT_EQ(executors.executors(0).name(), "echo");

  v1::ProcessBatchRequest process;
  process.set_request_id("r-2");
  v1::ProcessBatchResponse processed;
  ASSERT_TRUE(client.ProcessBatch(process, &processed).ok());
  EXPECT_EQ(processed.summary().batch_id(), "processed");

  EXPECT_THAT(server_.log.calls(),
              ElementsAre("SubmitBatch request_id: \"r-1\"", "GetProgress batch_id: \"b-1\"",
                          "GetBatch batch_id: \"b-2\"", "ListBatches limit: 2",
                          "CancelBatch batch_id: \"b-3\" reason: \"enough\"",
                          "ResolveExecutionOrder tasks { id: \"a\" }", "ListExecutors ",
                          "ProcessBatch request_id: \"r-2\""));
}

TEST_F(BatchClientTest, LimitCallsReachTheLimitServiceWithTheUnaryTimeout) {
  server_.limits.script()->set.mutable_status()->mutable_limit()->set_key("openai");
  server_.limits.script()->list.add_limits()->mutable_limit()->set_key("db");
  const BatchClient client = Client();

  v1::SetLimitRequest set;
  set.mutable_limit()->set_key("openai");
  set.mutable_limit()->set_max_in_flight(2);
  v1::SetLimitResponse status;
  const SystemTime called = std::chrono::system_clock::now();
  ASSERT_TRUE(client.SetLimit(set, &status).ok());
  EXPECT_EQ(status.status().limit().key(), "openai");
  ExpectDeadline(std::chrono::seconds(10), called);

  v1::ListLimitsResponse listed;
  ASSERT_TRUE(client.ListLimits({}, &listed).ok());
  ASSERT_EQ(listed.limits_size(), 1);
  EXPECT_EQ(listed.limits(0).limit().key(), "db");

  v1::DeleteLimitRequest deleted;
  deleted.set_key("openai");
  v1::DeleteLimitResponse answer;
  ASSERT_TRUE(client.DeleteLimit(deleted, &answer).ok());
  EXPECT_THAT(server_.log.calls(),
              ElementsAre("SetLimit limit { key: \"openai\" max_in_flight: 2 }", "ListLimits ",
                          "DeleteLimit key: \"openai\""));
}

TEST(BatchClientWithoutLimitStubTest, LimitCallsAreUnimplemented) {
  const BatchClient client(nullptr, nullptr, CallTimeouts{});
  v1::ListLimitsResponse listed;
  const grpc::Status status = client.ListLimits({}, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(status.error_message(), "this client has no LimitService stub");
}

TEST_F(BatchClientTest, AnErrorKeepsItsCodeAndMessage) {
  server_.batch.script()->status = grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch 'b-9'");
  v1::GetBatchRequest get;
  get.set_batch_id("b-9");
  v1::GetBatchResponse got;
  const grpc::Status status = Client().GetBatch(get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "no batch 'b-9'");
}

TEST_F(BatchClientTest, UnaryCallsCarryTheUnaryTimeoutByDefault) {
  const BatchClient client = Client();
  const SystemTime called = std::chrono::system_clock::now();
  v1::GetProgressResponse response;
  ASSERT_TRUE(client.GetProgress(v1::GetProgressRequest(), &response).ok());
  ExpectDeadline(std::chrono::seconds(10), called);
}

TEST_F(BatchClientTest, ProcessBatchHasNoDeadlineByDefault) {
  v1::ProcessBatchResponse response;
  ASSERT_TRUE(Client().ProcessBatch(v1::ProcessBatchRequest(), &response).ok());
  ExpectNoDeadline();
}

TEST_F(BatchClientTest, EveryTimeoutCanBeSetOrTurnedOff) {
  CallTimeouts timeouts;
  timeouts.unary = absl::InfiniteDuration();
  timeouts.process_batch = absl::Seconds(40);
  timeouts.health = absl::Seconds(20);
  const BatchClient client = Client(timeouts);
  v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(client.SubmitBatch(v1::SubmitBatchRequest(), &submitted).ok());
  ExpectNoDeadline();
  SystemTime called = std::chrono::system_clock::now();
  v1::ProcessBatchResponse processed;
  ASSERT_TRUE(client.ProcessBatch(v1::ProcessBatchRequest(), &processed).ok());
  ExpectDeadline(std::chrono::seconds(40), called);
  called = std::chrono::system_clock::now();
  HealthCheckResponse health;
  ASSERT_TRUE(client.CheckHealth("", &health).ok());
  ExpectDeadline(std::chrono::seconds(20), called);
}

TEST_F(BatchClientTest, ACallPastItsDeadlineIsDeadlineExceeded) {
  server_.batch.script()->hang = true;
  CallTimeouts timeouts;
  timeouts.unary = absl::Milliseconds(200);
  v1::ListBatchesResponse response;
  const grpc::Status status = Client(timeouts).ListBatches(v1::ListBatchesRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(BatchClientTest, CheckHealthAsksForTheServiceWithTheShortHealthTimeout) {
  const BatchClient client = Client();
  const SystemTime called = std::chrono::system_clock::now();
  HealthCheckResponse response;
  ASSERT_TRUE(client.CheckHealth("", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  ExpectDeadline(std::chrono::seconds(3), called);
  server_.health.serving = HealthCheckResponse::SERVICE_UNKNOWN;
  ASSERT_TRUE(client.CheckHealth("batchd.v1.BatchService", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  EXPECT_EQ(LastCall(), "Check service: \"batchd.v1.BatchService\"");
}

TEST_F(BatchClientTest, WatchProgressDeliversEveryUpdateInOrderWithoutADeadline) {
  v1::WatchProgressRequest request;
  request.set_batch_id("b-1");
  std::vector<uint32_t> completed;
  const grpc::Status status = Client().WatchProgress(
      request,
      [&](const v1::BatchProgress& progress) { completed.push_back(progress.completed_tasks()); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(completed, ElementsAre(1u, 2u, 3u));
  EXPECT_EQ(LastCall(), "WatchProgress batch_id: \"b-1\"");
  ExpectNoDeadline();
}

TEST_F(BatchClientTest, StreamResultsDeliversEveryMessageEndingWithTheSummary) {
  v1::StreamResultsRequest request;
  request.set_batch_id("b-1");
  request.set_after_sequence(41);
  std::vector<v1::StreamResultsResponse> messages;
  const grpc::Status status = Client().StreamResults(
      request, [&](const v1::StreamResultsResponse& message) { messages.push_back(message); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].sequence(), 42u);
  EXPECT_EQ(messages[0].results(0).task_id(), "a");
  EXPECT_EQ(messages[1].summary().batch_id(), "summarized");
  EXPECT_EQ(LastCall(), "StreamResults batch_id: \"b-1\" after_sequence: 41");
  ExpectNoDeadline();
}

// A port bound but not listening refuses connections while it is held.
TEST(BatchClientNoServerTest, AStreamWithNobodyListeningIsUnavailable) {
  const int held = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(held, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(getsockname(held, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const BatchClient client(grpc::CreateChannel(absl::StrCat("127.0.0.1:", ntohs(address.sin_port)),
                                               grpc::InsecureChannelCredentials()),
                           CallTimeouts{});
  int messages = 0;
  const grpc::Status status = client.StreamResults(
      v1::StreamResultsRequest(), [&](const v1::StreamResultsResponse&) { ++messages; });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(messages, 0);
  close(held);
}

}  // namespace
}  // namespace batchd::client
