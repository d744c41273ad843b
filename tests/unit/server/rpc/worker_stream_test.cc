// WorkerStream and WorkerService through a real gRPC server on a loopback port, with a real
// WorkerHub and Scheduler behind them: the hub's sends are converted off the scheduler's strand
// (conversion pool, then gRPC's threads) and still reach the worker in order — the registration
// alone in the first message even when assignments are ready at once, every assignment once,
// messages within the stream bound — and the stream's endings carry their status.
// The daemon-level view (worker loss, fencing, heartbeats) is
// tests/integration/worker_protocol_test.
#include "server/rpc/worker_stream.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/executors/builtin_executors.h"
#include "core/time/asio_timer_service.h"
#include "core/time/clock.h"
#include "core/workers/worker_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/rpc/batch_service.h"
#include "server/rpc/grpc_server.h"
#include "server/rpc/message_budget.h"
#include "server/rpc/worker_service.h"
#include "spdlog/spdlog.h"
#include "tests/testing/strand_thread.h"

namespace batchd::server {
namespace {

using ::testing::IsEmpty;

constexpr std::chrono::seconds kCallTimeout{30};  // bounds every call: a hang fails the test
using Stream = grpc::ClientReaderWriter<v1::ConnectRequest, v1::ConnectResponse>;

class WorkerStreamTest : public ::testing::Test {
 protected:
  WorkerStreamTest()
      : timers_(strand_.strand(), clock_),
        hub_(strand_.strand(), clock_, timers_, registry_, core::WorkerHubOptions{}) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(core::RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    scheduler_ = std::make_unique<core::Scheduler>(strand_.strand(), clock_, timers_, registry_,
                                                   core::SchedulerOptions{});
    hub_.SetCapacityListener(scheduler_.get());
    batches_.emplace(*scheduler_, registry_, streams_, auth_, conversions_);
    workers_.emplace(hub_, streams_, auth_, conversions_);
    grpc::Service* const services[] = {&*batches_, &*workers_};
    absl::StatusOr<RunningServer> running = StartGrpcServer("127.0.0.1:0", services);
    if (!running.ok()) {
      ADD_FAILURE() << running.status();
      return;
    }
    server_ = std::move(running->server);
    channel_ = grpc::CreateChannel(running->address, grpc::InsecureChannelCredentials());
    batch_stub_ = v1::BatchService::NewStub(channel_);
    worker_stub_ = v1::WorkerService::NewStub(channel_);
  }
  ~WorkerStreamTest() override {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->Wait();
    }
    conversions_.Join();
    strand_.Stop();
    scheduler_.reset();
  }

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    return context;
  }

  // Submits `tasks` tasks for the worker executor `executor` (waiting for a worker).
  std::string Submit(const std::string& executor, int tasks, size_t input_bytes = 8) {
    v1::SubmitBatchRequest request;
    request.mutable_options()->set_wait_for_workers(true);
    request.mutable_options()->set_max_concurrent(static_cast<uint32_t>(tasks));
    for (int i = 0; i < tasks; ++i) {
      v1::Task* task = request.add_tasks();
      task->set_id("t" + std::to_string(i));
      task->set_executor(executor);
      task->mutable_input()->set_string_value(std::string(input_bytes, 'x'));
    }
    v1::SubmitBatchResponse response;
    const grpc::Status status = batch_stub_->SubmitBatch(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.batch_id();
  }

  static v1::ConnectRequest Registration(const std::string& executor, uint32_t slots) {
    v1::ConnectRequest request;
    request.mutable_registration()->set_name("unit");
    request.mutable_registration()->add_executors(executor);
    request.mutable_registration()->set_slots(slots);
    return request;
  }

  // A worker that connected and sent its registration; `first` is the first answer (read only
  // when `registered` is true).
  struct Worker {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<Stream> stream;
    v1::ConnectResponse first;
    bool registered = false;  // the first answer carried a registration
  };
  Worker ConnectWorker(const std::string& executor, uint32_t slots) {
    Worker w;
    w.context = Context();
    w.stream = worker_stub_->Connect(w.context.get());
    w.registered = w.stream->Write(Registration(executor, slots)) && w.stream->Read(&w.first) &&
                   w.first.has_registered();
    return w;
  }
  // Reads what is left of the stream and how it ended.
  static grpc::Status Finished(Stream& stream) {
    v1::ConnectResponse more;
    while (stream.Read(&more)) {
    }
    return stream.Finish();
  }

  // Reads until `count` assignments arrived; the ids, and the messages they came in.
  static std::vector<v1::ConnectResponse> ReadAssignments(Stream& stream, size_t count) {
    std::vector<v1::ConnectResponse> messages;
    size_t seen = 0;
    v1::ConnectResponse message;
    while (seen < count && stream.Read(&message)) {
      seen += static_cast<size_t>(message.assignments_size());
      messages.push_back(message);
    }
    return messages;
  }

  testing::StrandThread strand_;
  core::SystemClock clock_;
  core::AsioTimerService timers_;
  core::ExecutorRegistry registry_;
  core::WorkerHub hub_;
  std::unique_ptr<core::Scheduler> scheduler_;
  const AuthCheck auth_{""};
  StreamLimiter streams_{8, 8};
  ConversionPool conversions_{2};
  std::optional<BatchService> batches_;
  std::optional<WorkerService> workers_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::BatchService::Stub> batch_stub_;
  std::unique_ptr<v1::WorkerService::Stub> worker_stub_;
};

TEST_F(WorkerStreamTest, RegistrationComesAloneThoughAssignmentsAreReadyAtOnce) {
  Submit("w", 200);
  Worker w = ConnectWorker("w", 200);
  ASSERT_TRUE(w.registered);
  EXPECT_FALSE(w.first.registered().worker_id().empty());
  EXPECT_THAT(w.first.assignments(), IsEmpty());
  // Every task arrives exactly once, none in a message with the registration.
  std::set<std::string> task_ids;
  size_t assignments = 0;
  for (const v1::ConnectResponse& m : ReadAssignments(*w.stream, 200)) {
    EXPECT_FALSE(m.has_registered());
    for (const v1::TaskAssignment& a : m.assignments()) {
      task_ids.insert(a.task_id());
      ++assignments;
    }
  }
  EXPECT_EQ(assignments, 200u);
  EXPECT_EQ(task_ids.size(), 200u);
  w.context->TryCancel();
}

TEST_F(WorkerStreamTest, AssignmentsQueuedDuringAWriteArePackedWithinTheBound) {
  // 40 inputs of 150 KiB: at most 6 fit in one message of kMaxStreamMessageBytes (1 MiB).
  Submit("big", 40, 150 * 1024);
  Worker w = ConnectWorker("big", 40);
  ASSERT_TRUE(w.registered);
  const std::vector<v1::ConnectResponse> messages = ReadAssignments(*w.stream, 40);
  size_t assignments = 0;
  for (const v1::ConnectResponse& m : messages) {
    EXPECT_LE(m.ByteSizeLong(), kMaxStreamMessageBytes);
    assignments += static_cast<size_t>(m.assignments_size());
  }
  EXPECT_EQ(assignments, 40u);
  EXPECT_GE(messages.size(), 7u);  // ⌈40 / 6⌉
  w.context->TryCancel();
}

TEST_F(WorkerStreamTest, OutcomesFinishTheBatchAndClosingEndsTheStreamOk) {
  const std::string batch_id = Submit("w", 3);
  Worker w = ConnectWorker("w", 3);
  ASSERT_TRUE(w.registered);
  v1::ConnectRequest outcomes;
  for (const v1::ConnectResponse& m : ReadAssignments(*w.stream, 3)) {
    for (const v1::TaskAssignment& a : m.assignments()) {
      v1::TaskOutcome* outcome = outcomes.add_outcomes();
      outcome->set_assignment_id(a.assignment_id());
      outcome->set_success(true);
      outcome->mutable_output()->set_string_value("done " + a.task_id());
    }
  }
  ASSERT_EQ(outcomes.outcomes_size(), 3);
  ASSERT_TRUE(w.stream->Write(outcomes));

  v1::StreamResultsRequest results_request;
  results_request.set_batch_id(batch_id);
  std::unique_ptr<grpc::ClientContext> results_context = Context();
  auto reader = batch_stub_->StreamResults(results_context.get(), results_request);
  v1::StreamResultsResponse response;
  std::set<std::string> outputs;
  v1::BatchSummary summary;
  while (reader->Read(&response)) {
    for (const v1::TaskResult& r : response.results()) outputs.insert(r.output().string_value());
    if (response.has_summary()) summary = response.summary();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(outputs, (std::set<std::string>{"done t0", "done t1", "done t2"}));
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(summary.successful_count(), 3u);

  ASSERT_TRUE(w.stream->WritesDone());
  v1::ConnectResponse after;
  EXPECT_FALSE(w.stream->Read(&after));
  EXPECT_TRUE(w.stream->Finish().ok());
}

TEST_F(WorkerStreamTest, ASecondRegistrationEndsTheStreamWithInvalidArgument) {
  Worker w = ConnectWorker("w", 1);
  ASSERT_TRUE(w.registered);
  w.stream->Write(Registration("w", 1));
  const grpc::Status status = Finished(*w.stream);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "registration may only be sent in the first message of the stream");
}

TEST_F(WorkerStreamTest, AFirstMessageWithoutRegistrationIsRefused) {
  std::unique_ptr<grpc::ClientContext> context = Context();
  std::unique_ptr<Stream> stream = worker_stub_->Connect(context.get());
  v1::ConnectRequest heartbeat;
  heartbeat.mutable_heartbeat();
  stream->Write(heartbeat);
  v1::ConnectResponse response;
  EXPECT_FALSE(stream->Read(&response));  // no answer at all, only the status
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "the first message of WorkerService.Connect must carry a registration");
}

TEST_F(WorkerStreamTest, CloseAllEndsAnIdleStreamWithItsStatus) {
  Worker w = ConnectWorker("w", 1);
  ASSERT_TRUE(w.registered);
  hub_.CloseAll(absl::UnavailableError("batchd is shutting down"));
  const grpc::Status status = Finished(*w.stream);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "batchd is shutting down");
}

}  // namespace
}  // namespace batchd::server
