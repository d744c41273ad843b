// BatchService's own logic through a real gRPC server on a loopback port, with a real
// Scheduler and the builtin executors (echo only: nothing here waits on a timer): the token is
// checked before anything else, argument checks refuse before a stream place is taken, the
// service's request limits apply, unknown batches are NOT_FOUND on every call naming one, and
// what is submitted is what GetBatch and ListBatches give back.
// The daemon-level view of the same calls is in tests/integration/scheduling_end_to_end_test.cc.
#include "server/rpc/batch_service.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/executors/builtin_executors.h"
#include "core/time/asio_timer_service.h"
#include "core/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rpc/grpc_server.h"
#include "spdlog/spdlog.h"
#include "tests/testing/strand_thread.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Stub = v1::BatchService::Stub;

constexpr std::chrono::seconds kCallTimeout{30};  // bounds every call: a hang fails the test
constexpr char kToken[] = "s3cret";

struct ServiceConfig {
  std::string listen = "127.0.0.1:0";
  std::string token;
  uint32_t max_streams_per_client = 8;
  uint32_t max_streams = 8;
  RequestLimits limits;
};

v1::Task* AddEcho(google::protobuf::RepeatedPtrField<v1::Task>* tasks, const std::string& id,
                  std::vector<std::string> dependencies = {}) {
  v1::Task* task = tasks->Add();
  task->set_id(id);
  task->set_executor("echo");
  task->mutable_input()->set_string_value("in-" + id);
  for (std::string& d : dependencies) task->add_dependencies(std::move(d));
  return task;
}

std::vector<std::vector<std::string>> Ids(const google::protobuf::RepeatedPtrField<v1::Layer>& in) {
  std::vector<std::vector<std::string>> out;
  for (const v1::Layer& layer : in)
    out.emplace_back(layer.task_ids().begin(), layer.task_ids().end());
  return out;
}

void ExpectError(const grpc::Status& status, grpc::StatusCode code, const std::string& message,
                 const std::string& rpc = "") {
  EXPECT_EQ(status.error_code(), code) << rpc << ": " << status.error_message();
  EXPECT_EQ(status.error_message(), message) << rpc;
}

class BatchServiceTest : public ::testing::Test {
 protected:
  BatchServiceTest() : timers_(strand_.strand(), clock_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(core::RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    scheduler_ = std::make_unique<core::Scheduler>(strand_.strand(), clock_, timers_, registry_,
                                                   core::SchedulerOptions{});
  }
  ~BatchServiceTest() override {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->Wait();
    }
    conversions_.Join();
    strand_.Stop();
    scheduler_.reset();
  }

  // Starts the service; false (with a test failure) when the server cannot listen.
  bool Serve(ServiceConfig config = {}) {
    auth_.emplace(config.token);
    streams_.emplace(config.max_streams_per_client, config.max_streams);
    service_.emplace(*scheduler_, registry_, *streams_, *auth_, conversions_, config.limits);
    grpc::Service* const services[] = {&*service_};
    absl::StatusOr<RunningServer> running = StartGrpcServer(config.listen, services);
    if (!running.ok()) {
      ADD_FAILURE() << running.status();
      return false;
    }
    server_ = std::move(running->server);
    stub_ = v1::BatchService::NewStub(
        grpc::CreateChannel(running->address, grpc::InsecureChannelCredentials()));
    token_ = config.token;
    return true;
  }

  std::unique_ptr<grpc::ClientContext> Context(bool with_token = true) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    if (with_token && !token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  // A unary call: `(stub.*method)(context, request, &response)`.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response, bool with_token = true) {
    return (stub_.get()->*method)(Context(with_token).get(), request, response);
  }

  // Every message of a server stream, and how it ended.
  template <typename Response>
  struct Streamed {
    std::vector<Response> messages;
    grpc::Status status;
  };
  template <typename Request, typename Response>
  Streamed<Response> ReadAll(std::unique_ptr<grpc::ClientReader<Response>> (Stub::*method)(
                                 grpc::ClientContext*, const Request&),
                             const Request& request, bool with_token = true) {
    std::unique_ptr<grpc::ClientContext> context = Context(with_token);
    std::unique_ptr<grpc::ClientReader<Response>> reader =
        (stub_.get()->*method)(context.get(), request);
    Streamed<Response> out;
    Response message;
    while (reader->Read(&message)) out.messages.push_back(message);
    out.status = reader->Finish();
    return out;
  }
  Streamed<v1::StreamResultsResponse> Results(const std::string& batch_id) {
    v1::StreamResultsRequest request;
    request.set_batch_id(batch_id);
    return ReadAll(&Stub::StreamResults, request);
  }
  Streamed<v1::WatchProgressResponse> Watch(const std::string& batch_id) {
    v1::WatchProgressRequest request;
    request.set_batch_id(batch_id);
    return ReadAll(&Stub::WatchProgress, request);
  }
  int BatchesListed() {
    v1::ListBatchesResponse listed;
    EXPECT_TRUE(Call(&Stub::ListBatches, v1::ListBatchesRequest(), &listed).ok());
    return listed.batches_size();
  }
  // Submits through ProcessBatch, so the batch has finished when this returns.
  std::string Processed(const std::string& task_id) {
    v1::ProcessBatchRequest request;
    AddEcho(request.mutable_tasks(), task_id);
    v1::ProcessBatchResponse response;
    const grpc::Status status = Call(&Stub::ProcessBatch, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.batch_id();
  }

  testing::StrandThread strand_;
  core::SystemClock clock_;
  core::AsioTimerService timers_;
  core::ExecutorRegistry registry_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::optional<AuthCheck> auth_;
  std::optional<StreamLimiter> streams_;
  ConversionPool conversions_{2};
  std::optional<BatchService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Stub> stub_;
  std::string token_;
};

// --- Round trips -------------------------------------------------------------------------------

TEST_F(BatchServiceTest, SubmittedBatchComesBackFromGetBatchAsItRan) {
  ASSERT_TRUE(Serve());
  v1::SubmitBatchRequest request;
  AddEcho(request.mutable_tasks(), "a");
  AddEcho(request.mutable_tasks(), "b", {"a"});
  (*request.mutable_labels())["owner"] = "unit";
  v1::SubmitBatchResponse submitted;
  grpc::Status status = Call(&Stub::SubmitBatch, request, &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(submitted.batch_id().empty());
  EXPECT_EQ(Ids(submitted.layers()), (std::vector<std::vector<std::string>>{{"a"}, {"b"}}));
  EXPECT_FALSE(submitted.layers_omitted());

  // The stream ends once the batch has: then GetBatch sees it finished.
  const Streamed<v1::StreamResultsResponse> streamed = Results(submitted.batch_id());
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  v1::GetBatchRequest get;
  get.set_batch_id(submitted.batch_id());
  v1::GetBatchResponse got;
  status = Call(&Stub::GetBatch, get, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::BatchSummary& summary = got.summary();
  EXPECT_EQ(summary.batch_id(), submitted.batch_id());
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(summary.total_tasks(), 2u);
  EXPECT_EQ(summary.successful_count(), 2u);
  ASSERT_EQ(summary.results_size(), 2);
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const v1::TaskResult& r : summary.results()) {
    EXPECT_EQ(r.state(), v1::TASK_STATE_SUCCEEDED) << r.task_id();
    EXPECT_EQ(r.executor(), "echo") << r.task_id();
    outputs.emplace_back(r.task_id(), r.output().string_value());
  }
  EXPECT_THAT(outputs, UnorderedElementsAre(Pair("a", "in-a"), Pair("b", "in-b")));

  v1::GetProgressRequest progress_request;
  progress_request.set_batch_id(submitted.batch_id());
  v1::GetProgressResponse progress;
  ASSERT_TRUE(Call(&Stub::GetProgress, progress_request, &progress).ok());
  EXPECT_EQ(progress.progress().completed_tasks(), 2u);
  EXPECT_THAT(progress.progress().labels(), UnorderedElementsAre(Pair("owner", "unit")));
}

TEST_F(BatchServiceTest, ProcessBatchAnswersWithTheFinishedSummary) {
  ASSERT_TRUE(Serve());
  v1::ProcessBatchRequest request;
  AddEcho(request.mutable_tasks(), "only");
  v1::ProcessBatchResponse response;
  const grpc::Status status = Call(&Stub::ProcessBatch, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.summary().batch_id(), response.batch_id());
  EXPECT_EQ(response.summary().state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(response.summary().results_size(), 1);
  EXPECT_EQ(response.summary().results(0).output().string_value(), "in-only");
}

TEST_F(BatchServiceTest, ListBatchesIsNewestFirstWithinTheLimit) {
  ASSERT_TRUE(Serve());
  const std::string first = Processed("x");
  const std::string second = Processed("y");
  const std::string third = Processed("z");
  const auto listed = [&](uint32_t limit) {
    v1::ListBatchesRequest request;
    request.set_limit(limit);
    v1::ListBatchesResponse response;
    EXPECT_TRUE(Call(&Stub::ListBatches, request, &response).ok());
    std::vector<std::string> ids;
    for (const v1::BatchProgress& p : response.batches()) ids.push_back(p.batch_id());
    return ids;
  };
  EXPECT_THAT(listed(2), ElementsAre(third, second));
  EXPECT_THAT(listed(0), ElementsAre(third, second, first));
}

TEST_F(BatchServiceTest, ListExecutorsNamesTheRegisteredOnesInOrder) {
  ASSERT_TRUE(Serve());
  v1::ListExecutorsResponse response;
  ASSERT_TRUE(Call(&Stub::ListExecutors, v1::ListExecutorsRequest(), &response).ok());
  std::vector<std::string> executors;
  for (const v1::ExecutorInfo& e : response.executors()) {
    executors.push_back(e.name() + "/" + e.kind());
  }
  EXPECT_THAT(executors,
              ElementsAre("echo/builtin", "external/builtin", "fail/builtin", "sleep/builtin"));
}

TEST_F(BatchServiceTest, ResolveExecutionOrderAndAssignTasksAnswerWithoutRunning) {
  ASSERT_TRUE(Serve());
  // A dry run: the answer is computed here and nothing is submitted.
  v1::ResolveExecutionOrderRequest resolve;
  AddEcho(resolve.mutable_tasks(), "later", {"first"});
  AddEcho(resolve.mutable_tasks(), "first");
  v1::ResolveExecutionOrderResponse order;
  ASSERT_TRUE(Call(&Stub::ResolveExecutionOrder, resolve, &order).ok());
  EXPECT_EQ(Ids(order.layers()), (std::vector<std::vector<std::string>>{{"first"}, {"later"}}));
  EXPECT_THAT(order.critical_path(), ElementsAre("first", "later"));

  v1::AssignTasksRequest assign;
  *assign.mutable_tasks() = resolve.tasks();
  assign.set_workers(2);
  assign.set_strategy(static_cast<v1::LoadBalancer>(99));
  v1::AssignTasksResponse assigned;
  const grpc::Status status = Call(&Stub::AssignTasks, assign, &assigned);
  ExpectError(status, grpc::StatusCode::INVALID_ARGUMENT, "strategy: unknown value 99");
  EXPECT_EQ(BatchesListed(), 0);
}

// --- Refusals ----------------------------------------------------------------------------------

TEST_F(BatchServiceTest, ServiceRequestLimitsRefuseBothSubmitCalls) {
  ServiceConfig config;
  config.limits.max_batch_tasks = 2;
  const std::string over_limit = "Batch has 3 tasks; the limit is 2 (--max-batch-tasks)";
  ASSERT_TRUE(Serve(config));
  v1::SubmitBatchRequest submit;
  for (const char* id : {"a", "b", "c"}) AddEcho(submit.mutable_tasks(), id);
  v1::SubmitBatchResponse submitted;
  grpc::Status status = Call(&Stub::SubmitBatch, submit, &submitted);
  ExpectError(status, grpc::StatusCode::INVALID_ARGUMENT, over_limit);

  v1::ProcessBatchRequest process;
  *process.mutable_tasks() = submit.tasks();
  v1::ProcessBatchResponse processed;
  status = Call(&Stub::ProcessBatch, process, &processed);
  ExpectError(status, grpc::StatusCode::INVALID_ARGUMENT, over_limit);
  EXPECT_EQ(BatchesListed(), 0);
}

TEST_F(BatchServiceTest, UnknownExecutorIsInvalidArgumentListingTheKnownOnes) {
  ASSERT_TRUE(Serve());
  v1::SubmitBatchRequest request;
  AddEcho(request.mutable_tasks(), "a")->set_executor("nope");
  v1::SubmitBatchResponse response;
  const grpc::Status status = Call(&Stub::SubmitBatch, request, &response);
  ExpectError(status, grpc::StatusCode::INVALID_ARGUMENT,
              "Unknown executor 'nope' of task 'a' (known: echo, external, fail, sleep)");
  EXPECT_TRUE(response.batch_id().empty());
}

TEST_F(BatchServiceTest, UnknownBatchIsNotFoundOnEveryCallNamingOne) {
  ASSERT_TRUE(Serve());
  const std::string message = "Batch 'b-unknown' not found";
  v1::GetBatchRequest get;
  get.set_batch_id("b-unknown");
  v1::GetBatchResponse got;
  v1::GetProgressRequest progress;
  progress.set_batch_id("b-unknown");
  v1::GetProgressResponse progressed;
  v1::CancelBatchRequest cancel;
  cancel.set_batch_id("b-unknown");
  v1::CancelBatchResponse cancelled;
  const std::vector<std::pair<std::string, grpc::Status>> answers = {
      {"GetBatch", Call(&Stub::GetBatch, get, &got)},
      {"GetProgress", Call(&Stub::GetProgress, progress, &progressed)},
      {"CancelBatch", Call(&Stub::CancelBatch, cancel, &cancelled)},
      {"StreamResults", Results("b-unknown").status},
      {"WatchProgress", Watch("b-unknown").status},
  };
  for (const auto& [rpc, status] : answers) {
    ExpectError(status, grpc::StatusCode::NOT_FOUND, message, rpc);
  }
}

TEST_F(BatchServiceTest, EmptyBatchIdIsRefusedBeforeAStreamPlaceIsTaken) {
  ServiceConfig config;
  config.max_streams = 1;
  ASSERT_TRUE(Serve(config));
  absl::StatusOr<StreamLimiter::Lease> held = streams_->Acquire("ipv4:10.9.9.9:1");
  ASSERT_TRUE(held.ok());
  // With every place taken, an empty id still gets its own answer.
  for (const grpc::Status& status : {Results("").status, Watch("").status}) {
    ExpectError(status, grpc::StatusCode::INVALID_ARGUMENT, "batch_id is empty");
  }
  // A named batch needs a place.
  const std::string full = "Too many open streams: the limit is 1 in total (--max-streams)";
  for (const grpc::Status& status : {Results("b-any").status, Watch("b-any").status}) {
    ExpectError(status, grpc::StatusCode::RESOURCE_EXHAUSTED, full);
  }
  EXPECT_EQ(streams_->open_streams(), 1u);
}

TEST_F(BatchServiceTest, TokenIsCheckedBeforeEverythingElse) {
  ServiceConfig config;
  config.token = kToken;
  ASSERT_TRUE(Serve(config));
  constexpr bool kNoToken = false;
  v1::SubmitBatchRequest submit;
  AddEcho(submit.mutable_tasks(), "a");
  v1::SubmitBatchResponse submitted;
  v1::GetBatchResponse got;
  v1::ListBatchesResponse listed;
  v1::ListExecutorsResponse executors;
  v1::ResolveExecutionOrderResponse order;
  v1::StreamResultsRequest results;  // empty id: refused, but only after the token
  v1::AddTasksResponse added;
  v1::CloseBatchResponse closed;
  v1::CancelTaskResponse cancelled;
  v1::CompleteTaskResponse completed;
  const std::vector<std::pair<std::string, grpc::Status>> answers = {
      {"SubmitBatch", Call(&Stub::SubmitBatch, submit, &submitted, kNoToken)},
      {"GetBatch", Call(&Stub::GetBatch, v1::GetBatchRequest(), &got, kNoToken)},
      {"ListBatches", Call(&Stub::ListBatches, v1::ListBatchesRequest(), &listed, kNoToken)},
      {"ListExecutors",
       Call(&Stub::ListExecutors, v1::ListExecutorsRequest(), &executors, kNoToken)},
      {"ResolveExecutionOrder",
       Call(&Stub::ResolveExecutionOrder, v1::ResolveExecutionOrderRequest(), &order, kNoToken)},
      {"StreamResults", ReadAll(&Stub::StreamResults, results, kNoToken).status},
      {"AddTasks", Call(&Stub::AddTasks, v1::AddTasksRequest(), &added, kNoToken)},
      {"CloseBatch", Call(&Stub::CloseBatch, v1::CloseBatchRequest(), &closed, kNoToken)},
      {"CancelTask", Call(&Stub::CancelTask, v1::CancelTaskRequest(), &cancelled, kNoToken)},
      {"CompleteTask", Call(&Stub::CompleteTask, v1::CompleteTaskRequest(), &completed, kNoToken)},
  };
  for (const auto& [rpc, status] : answers) {
    ExpectError(status, grpc::StatusCode::UNAUTHENTICATED, AuthCheck::kRejectMessage, rpc);
  }
  EXPECT_TRUE(submitted.batch_id().empty());
  // With the token the same calls get their own answers.
  EXPECT_EQ(Call(&Stub::GetBatch, v1::GetBatchRequest(), &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Call(&Stub::ListExecutors, v1::ListExecutorsRequest(), &executors).ok());
  EXPECT_EQ(executors.executors_size(), 4);
}

// gRPC 1.51 writes an IPv6 peer as "ipv6:%5B::1%5D:port": the refusal must still name ::1, and
// the host's streams must share one cap whichever way its address was written.
TEST_F(BatchServiceTest, StreamCapOfAnIpv6ClientNamesItsAddress) {
  ServiceConfig config;
  config.listen = "[::1]:0";
  config.max_streams_per_client = 1;
  ASSERT_TRUE(Serve(config)) << "no IPv6 loopback here?";
  absl::StatusOr<StreamLimiter::Lease> held = streams_->Acquire("ipv6:[::1]:1");
  ASSERT_TRUE(held.ok());
  const grpc::Status status = Results("b-any").status;
  ExpectError(status, grpc::StatusCode::RESOURCE_EXHAUSTED,
              "Too many open streams from ::1: the limit is 1 per client "
              "(--max-streams-per-client)");
}

}  // namespace
}  // namespace batchd::server
