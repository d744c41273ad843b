// BatchClient against an in-process gRPC server whose services record what reached them (the
// method, the request, the deadline) and answer what the test scripted: each call reaches its
// RPC with its request, answers come back whole, errors keep their code and message, and every
// call carries the deadline its CallTimeouts say (none for ProcessBatch and streams).
#include "client/cpp/batch_client.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_callback.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;
using SystemTime = std::chrono::system_clock::time_point;

// What one call looked like from the server.
struct Seen {
  std::string method;
  std::string request;  // the request's ShortDebugString
  SystemTime deadline;  // time_point::max() when the call had none
  SystemTime received;
};

class Recorder {
 public:
  void Record(const std::string& method, const google::protobuf::Message& request,
              const grpc::CallbackServerContext* context) {
    absl::MutexLock lock(&mu_);
    seen_.push_back({method, request.ShortDebugString(), context->deadline(),
                     std::chrono::system_clock::now()});
  }
  std::vector<Seen> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

// Writes `responses`, then finishes OK.
template <typename Response>
class ListWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit ListWriter(std::vector<Response> responses) : responses_(std::move(responses)) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ == responses_.size()) return this->Finish(grpc::Status::OK);
    this->StartWrite(&responses_[next_++]);
  }
  std::vector<Response> responses_;
  size_t next_ = 0;
};

// Finishes only when the client cancels (its deadline passes).
class NeverAnswers final : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }
};

// Answers every unary call with `status` (OK: a response naming the method), records it.
class ScriptedBatchService final : public v1::BatchService::CallbackService {
 public:
  explicit ScriptedBatchService(Recorder& recorder) : recorder_(recorder) {}

  grpc::ServerUnaryReactor* SubmitBatch(grpc::CallbackServerContext* c,
                                        const v1::SubmitBatchRequest* request,
                                        v1::SubmitBatchResponse* response) override {
    response->set_batch_id("submitted");
    return Answer("SubmitBatch", c, *request);
  }
  grpc::ServerUnaryReactor* ProcessBatch(grpc::CallbackServerContext* c,
                                         const v1::ProcessBatchRequest* request,
                                         v1::ProcessBatchResponse* response) override {
    response->mutable_summary()->set_batch_id("processed");
    return Answer("ProcessBatch", c, *request);
  }
  grpc::ServerUnaryReactor* GetProgress(grpc::CallbackServerContext* c,
                                        const v1::GetProgressRequest* request,
                                        v1::GetProgressResponse* response) override {
    response->mutable_progress()->set_batch_id(request->batch_id());
    response->mutable_progress()->set_completed_tasks(3);
    return Answer("GetProgress", c, *request);
  }
  grpc::ServerUnaryReactor* GetBatch(grpc::CallbackServerContext* c,
                                     const v1::GetBatchRequest* request,
                                     v1::GetBatchResponse* response) override {
    response->mutable_summary()->set_batch_id(request->batch_id());
    return Answer("GetBatch", c, *request);
  }
  grpc::ServerUnaryReactor* ListBatches(grpc::CallbackServerContext* c,
                                        const v1::ListBatchesRequest* request,
                                        v1::ListBatchesResponse* response) override {
    response->add_batches()->set_batch_id("first");
    response->add_batches()->set_batch_id("second");
    return Answer("ListBatches", c, *request);
  }
  grpc::ServerUnaryReactor* CancelBatch(grpc::CallbackServerContext* c,
                                        const v1::CancelBatchRequest* request,
                                        v1::CancelBatchResponse* response) override {
    response->mutable_progress()->set_batch_id(request->batch_id());
    return Answer("CancelBatch", c, *request);
  }
  grpc::ServerUnaryReactor* ResolveExecutionOrder(
      grpc::CallbackServerContext* c, const v1::ResolveExecutionOrderRequest* request,
      v1::ResolveExecutionOrderResponse* response) override {
    response->add_critical_path("a");
    response->add_critical_path("b");
    return Answer("ResolveExecutionOrder", c, *request);
  }
  grpc::ServerUnaryReactor* ListExecutors(grpc::CallbackServerContext* c,
                                          const v1::ListExecutorsRequest* request,
                                          v1::ListExecutorsResponse* response) override {
    response->add_executors()->set_name("echo");
    return Answer("ListExecutors", c, *request);
  }
  grpc::ServerWriteReactor<v1::WatchProgressResponse>* WatchProgress(
      grpc::CallbackServerContext* c, const v1::WatchProgressRequest* request) override {
    recorder_.Record("WatchProgress", *request, c);
    std::vector<v1::WatchProgressResponse> updates(3);
    for (size_t i = 0; i < updates.size(); ++i) {
      updates[i].mutable_progress()->set_completed_tasks(static_cast<uint32_t>(i + 1));
    }
    return new ListWriter<v1::WatchProgressResponse>(std::move(updates));
  }
  grpc::ServerWriteReactor<v1::StreamResultsResponse>* StreamResults(
      grpc::CallbackServerContext* c, const v1::StreamResultsRequest* request) override {
    recorder_.Record("StreamResults", *request, c);
    std::vector<v1::StreamResultsResponse> messages(2);
    messages[0].set_sequence(request->after_sequence() + 1);
    messages[0].add_results()->set_task_id("a");
    messages[1].mutable_summary()->set_batch_id(request->batch_id());
    return new ListWriter<v1::StreamResultsResponse>(std::move(messages));
  }

  // Written by the test before the calls that read it.
  grpc::Status status;
  bool hang = false;  // never answer unary calls (until the client gives up)

 private:
  grpc::ServerUnaryReactor* Answer(const std::string& method, grpc::CallbackServerContext* c,
                                   const google::protobuf::Message& request) {
    recorder_.Record(method, request, c);
    if (hang) return new NeverAnswers();
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  Recorder& recorder_;
};

class ScriptedHealth final : public grpc::health::v1::Health::CallbackService {
 public:
  explicit ScriptedHealth(Recorder& recorder) : recorder_(recorder) {}
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* c,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) override {
    recorder_.Record("Check", *request, c);
    response->set_status(request->service().empty() ? HealthCheckResponse::SERVING
                                                    : HealthCheckResponse::SERVICE_UNKNOWN);
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  Recorder& recorder_;
};

// Calls with a deadline must reach the server with (about) their timeout left: generous, since
// a loaded machine may take seconds to deliver a call.
constexpr auto kSlack = std::chrono::seconds(5);

class BatchClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&batch_);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    server_->Shutdown();
    server_->Wait();
  }

  BatchClient Client(CallTimeouts timeouts = {}) {
    return BatchClient(server_->InProcessChannel(grpc::ChannelArguments()), timeouts);
  }

  Seen Last() const {
    const std::vector<Seen> seen = recorder_.seen();
    EXPECT_FALSE(seen.empty());
    return seen.empty() ? Seen{} : seen.back();
  }

  // The last call's deadline was `timeout` after it was made (within kSlack).
  void ExpectDeadline(std::chrono::milliseconds timeout, SystemTime called) const {
    const Seen seen = Last();
    EXPECT_LE(seen.deadline, called + kSlack + timeout) << seen.method;
    EXPECT_GE(seen.deadline, called + timeout) << seen.method;
  }
  void ExpectNoDeadline() const {
    const Seen seen = Last();
    EXPECT_EQ(seen.deadline, SystemTime::max()) << seen.method;
  }

  Recorder recorder_;
  ScriptedBatchService batch_{recorder_};
  ScriptedHealth health_{recorder_};
  std::unique_ptr<grpc::Server> server_;
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
  EXPECT_EQ(progress.progress().batch_id(), "b-1");
  EXPECT_EQ(progress.progress().completed_tasks(), 3u);

  v1::GetBatchRequest get;
  get.set_batch_id("b-2");
  v1::GetBatchResponse got;
  ASSERT_TRUE(client.GetBatch(get, &got).ok());
  EXPECT_EQ(got.summary().batch_id(), "b-2");

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
  EXPECT_EQ(cancelled.progress().batch_id(), "b-3");

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

  std::vector<std::string> calls;
  for (const Seen& seen : recorder_.seen()) calls.push_back(seen.method + " " + seen.request);
  EXPECT_THAT(calls, ElementsAre("SubmitBatch request_id: \"r-1\"", "GetProgress batch_id: \"b-1\"",
                                 "GetBatch batch_id: \"b-2\"", "ListBatches limit: 2",
                                 "CancelBatch batch_id: \"b-3\" reason: \"enough\"",
                                 "ResolveExecutionOrder tasks { id: \"a\" }", "ListExecutors ",
                                 "ProcessBatch request_id: \"r-2\""));
}

TEST_F(BatchClientTest, AnErrorKeepsItsCodeAndMessage) {
  batch_.status = grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch 'b-9'");
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
  batch_.hang = true;
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
  ASSERT_TRUE(client.CheckHealth("batchd.v1.BatchService", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  EXPECT_EQ(Last().request, "service: \"batchd.v1.BatchService\"");
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
  EXPECT_EQ(Last().request, "batch_id: \"b-1\"");
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
  EXPECT_EQ(messages[1].summary().batch_id(), "b-1");
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
