// WorkerService.Connect at the protocol level against the real daemon: each test drives worker
// streams by hand with the generated stub (registration, assignments, outcomes, cancels,
// heartbeats, fencing). Every read has a deadline; timing bounds are generous lower bounds.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::chrono::seconds kStreamTimeout{60};
constexpr absl::Duration kPollTimeout = absl::Seconds(30);

// One hand-driven worker stream. Writes are serialised so a heartbeat thread may share it.
class RawWorker {
 public:
  // Heartbeats every 100 ms unless `heartbeats` is false.
  RawWorker(v1::WorkerService::Stub& stub, const std::string& name,
            std::vector<std::string> executors, uint32_t slots = 4, bool heartbeats = true)
      : RawWorker(stub, Registration(name, std::move(executors), slots), heartbeats) {}
  RawWorker(v1::WorkerService::Stub& stub, const v1::WorkerRegistration& registration,
            bool heartbeats = true) {
    context_.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
    stream_ = stub.Connect(&context_);
    v1::ConnectRequest request;
    *request.mutable_registration() = registration;
    Write(request);
    if (heartbeats) StartHeartbeats(absl::Milliseconds(100));
  }
  static v1::WorkerRegistration Registration(const std::string& name,
                                             std::vector<std::string> executors, uint32_t slots) {
    v1::WorkerRegistration r;
    r.set_name(name);
    for (std::string& e : executors) r.add_executors(std::move(e));
    r.set_slots(slots);
    return r;
  }
  ~RawWorker() { StopHeartbeats(); }

  bool Write(const v1::ConnectRequest& request) {
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(request);
  }
  // The next message; false when the stream ended.
  bool Read(v1::ConnectResponse* response) { return stream_->Read(response); }

  // Reads the registration answer; the worker id ("" when the stream ended instead).
  std::string ReadRegistered() {
    v1::ConnectResponse response;
    if (!Read(&response)) return "";
    heartbeat_interval_ms_ = response.registered().heartbeat_interval_ms();
    return response.registered().worker_id();
  }
  // Reads until `n` assignments arrived (they may come packed); fewer when the stream ended.
  std::vector<v1::TaskAssignment> ReadAssignments(size_t n) {
    std::vector<v1::TaskAssignment> out;
    v1::ConnectResponse response;
    while (out.size() < n && Read(&response)) {
      for (const v1::TaskAssignment& a : response.assignments()) out.push_back(a);
      for (const v1::CancelAssignment& c : response.cancels()) cancels_.push_back(c);
    }
    return out;
  }
  // Reads until a cancel arrives; assignments read meanwhile are kept in `extra`.
  std::optional<v1::CancelAssignment> ReadCancel() {
    if (!cancels_.empty()) {
      v1::CancelAssignment c = cancels_.front();
      cancels_.erase(cancels_.begin());
      return c;
    }
    v1::ConnectResponse response;
    while (Read(&response)) {
      if (response.cancels_size() > 0) return response.cancels(0);
    }
    return std::nullopt;
  }

  bool Succeed(const std::string& assignment_id, const google::protobuf::Value& output) {
    v1::ConnectRequest request;
    v1::TaskOutcome* o = request.add_outcomes();
    o->set_assignment_id(assignment_id);
    o->set_success(true);
    *o->mutable_output() = output;
    return Write(request);
  }
  bool Fail(const std::string& assignment_id, const std::string& error, bool non_retryable = false,
            uint32_t retry_after_ms = 0) {
    v1::ConnectRequest request;
    v1::TaskOutcome* o = request.add_outcomes();
    o->set_assignment_id(assignment_id);
    o->set_error(error);
    o->set_non_retryable(non_retryable);
    o->set_retry_after_ms(retry_after_ms);
    return Write(request);
  }

  void StartHeartbeats(absl::Duration every) {
    heartbeats_ = std::thread([this, every] {
      while (!stop_.WaitForNotificationWithTimeout(every)) {
        v1::ConnectRequest request;
        request.mutable_heartbeat();
        if (!Write(request)) return;
      }
    });
  }
  void StopHeartbeats() {
    if (!heartbeats_.joinable()) return;
    stop_.Notify();
    heartbeats_.join();
  }

  grpc::Status Finish() {
    StopHeartbeats();
    {
      absl::MutexLock lock(&write_mu_);
      stream_->WritesDone();
    }
    v1::ConnectResponse ignored;
    while (Read(&ignored)) {
    }
    return stream_->Finish();
  }
  // Ends the call abruptly, as a crashed worker's connection does.
  void Abort() { context_.TryCancel(); }

  uint32_t heartbeat_interval_ms() const { return heartbeat_interval_ms_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ConnectRequest, v1::ConnectResponse>> stream_;
  absl::Mutex write_mu_;
  std::vector<v1::CancelAssignment> cancels_;
  uint32_t heartbeat_interval_ms_ = 0;
  absl::Notification stop_;
  std::thread heartbeats_;
};

google::protobuf::Value StructValue(const std::string& key, double number) {
  google::protobuf::Value v;
  (*v.mutable_struct_value()->mutable_fields())[key].set_number_value(number);
  return v;
}

class WorkerProtocolTest : public testing::DaemonTestBase {
 protected:
  std::vector<std::string> DaemonFlags() const override {
    return {"--worker-heartbeat-interval=500ms", "--worker-cancel-grace=2s"};
  }
  void SetUp() override {
    DaemonTestBase::SetUp();
    if (daemon_ != nullptr) workers_ = daemon_->NewWorkerStub();
  }

  v1::Task* AddTask(v1::SubmitBatchRequest* request, const std::string& id,
                    const std::string& executor, std::vector<std::string> dependencies = {}) {
    v1::Task* task = request->add_tasks();
    task->set_id(id);
    task->set_executor(executor);
    for (std::string& d : dependencies) task->add_dependencies(std::move(d));
    return task;
  }

  std::string Submit(const v1::SubmitBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
    v1::SubmitBatchResponse response;
    grpc::Status status = batches_->SubmitBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.batch_id();
  }

  // Polls GetBatch until the batch finished (bounded); its summary.
  v1::BatchSummary WaitFinished(const std::string& batch_id) {
    return testing::WaitForBatchEnd(*batches_, batch_id, kPollTimeout);
  }

  // The executor as ListExecutors shows it, or nullopt when it is not listed.
  std::optional<v1::ExecutorInfo> Listed(const std::string& name) {
    grpc::ClientContext context;
    v1::ListExecutorsResponse response;
    EXPECT_TRUE(batches_->ListExecutors(&context, {}, &response).ok());
    for (const v1::ExecutorInfo& e : response.executors()) {
      if (e.name() == name) return e;
    }
    return std::nullopt;
  }
  // A worker's departure reaches the daemon after its stream ends: polls (bounded) until
  // `name` is no longer listed.
  bool WaitUnlisted(const std::string& name) {
    const absl::Time deadline = absl::Now() + kPollTimeout;
    while (absl::Now() < deadline) {
      if (!Listed(name).has_value()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  v1::ListWorkersResponse ListWorkers() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
    v1::ListWorkersResponse response;
    const grpc::Status status = workers_->ListWorkers(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  // What the daemon learns from a worker's stream arrives on its own time: polls (bounded)
  // until `done` holds for ListWorkers' answer, which is returned either way.
  template <typename Done>
  v1::ListWorkersResponse WaitForWorkers(Done done) {
    const absl::Time deadline = absl::Now() + kPollTimeout;
    v1::ListWorkersResponse response = ListWorkers();
    while (!done(response) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      response = ListWorkers();
    }
    return response;
  }

  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

TEST_F(WorkerProtocolTest, RegistrationAnswersWorkerIdAndHeartbeatInterval) {
  RawWorker worker(*workers_, "alpha", {"tool"});
  EXPECT_THAT(worker.ReadRegistered(), StartsWith("alpha#"));
  EXPECT_EQ(worker.heartbeat_interval_ms(), 500u);
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(WorkerProtocolTest, FirstMessageWithoutRegistrationIsRejected) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
  auto stream = workers_->Connect(&context);
  v1::ConnectRequest request;
  request.mutable_heartbeat();
  stream->Write(request);
  v1::ConnectResponse response;
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "the first message of WorkerService.Connect must carry a registration");
}

TEST_F(WorkerProtocolTest, WorkerCannotServeABuiltinExecutor) {
  RawWorker worker(*workers_, "impostor", {"echo"});
  EXPECT_EQ(worker.ReadRegistered(), "");
  const grpc::Status status = worker.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "Executor 'echo' is provided by the daemon (builtin); a worker cannot serve it");
}

TEST_F(WorkerProtocolTest, AssignmentsCarryTheTaskAndDependencyOutputs) {
  RawWorker worker(*workers_, "w", {"tool"});
  const std::string worker_id = worker.ReadRegistered();
  ASSERT_THAT(worker_id, StartsWith("w#"));

  v1::SubmitBatchRequest request;
  v1::Task* a = AddTask(&request, "a", "tool");
  *a->mutable_input() = StructValue("n", 7);
  a->set_priority(2.5);
  AddTask(&request, "b", "tool", {"a"})->set_timeout_ms(4000);
  const std::string batch_id = Submit(request);

  std::vector<v1::TaskAssignment> first = worker.ReadAssignments(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].batch_id(), batch_id);
  EXPECT_EQ(first[0].task_id(), "a");
  EXPECT_EQ(first[0].executor(), "tool");
  EXPECT_EQ(first[0].input().struct_value().fields().at("n").number_value(), 7);
  EXPECT_EQ(first[0].priority(), 2.5);
  EXPECT_EQ(first[0].attempt(), 0u);
  EXPECT_EQ(first[0].timeout_ms(), 30000u);
  EXPECT_GT(TimeUtil::TimestampToMilliseconds(first[0].deadline()),
            absl::ToUnixMillis(absl::Now()) + 20000);
  EXPECT_TRUE(first[0].dependencies().empty());
  ASSERT_TRUE(worker.Succeed(first[0].assignment_id(), StructValue("x", 1)));

  std::vector<v1::TaskAssignment> second = worker.ReadAssignments(1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task_id(), "b");
  EXPECT_EQ(second[0].timeout_ms(), 4000u);
  EXPECT_THAT(second[0].dependencies(), ElementsAre("a"));
  ASSERT_EQ(second[0].dependency_outputs().count("a"), 1u);
  EXPECT_EQ(second[0].dependency_outputs().at("a").struct_value().fields().at("x").number_value(),
            1);
  ASSERT_TRUE(worker.Succeed(second[0].assignment_id(), StructValue("y", 2)));

  const v1::BatchSummary summary = WaitFinished(batch_id);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(summary.results_size(), 2);
  for (const v1::TaskResult& r : summary.results()) {
    EXPECT_EQ(r.worker_id(), worker_id);
    EXPECT_EQ(r.executor(), "tool");
  }
}

TEST_F(WorkerProtocolTest, LateOutcomeAfterTimeoutIsIgnored) {
  RawWorker worker(*workers_, "slow", {"tool"});
  ASSERT_NE(worker.ReadRegistered(), "");
  v1::SubmitBatchRequest request;
  AddTask(&request, "t", "tool")->set_timeout_ms(300);
  const std::string batch_id = Submit(request);

  std::vector<v1::TaskAssignment> assigned = worker.ReadAssignments(1);
  ASSERT_EQ(assigned.size(), 1u);
  std::optional<v1::CancelAssignment> cancel = worker.ReadCancel();
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->assignment_id(), assigned[0].assignment_id());
  EXPECT_EQ(cancel->reason(), "Timeout after 300 ms");
  // The work "finishes" after its cancel: the outcome must not become a second result.
  ASSERT_TRUE(worker.Succeed(assigned[0].assignment_id(), StructValue("late", 1)));
  ASSERT_TRUE(worker.Succeed(assigned[0].assignment_id(), StructValue("late", 2)));

  const v1::BatchSummary summary = WaitFinished(batch_id);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(summary.results(0).error(), "Timeout after 300 ms");
  // The batch ends at the timeout; the daemon reads the late outcome a moment later.
  const absl::Time deadline = absl::Now() + kPollTimeout;
  while (absl::Now() < deadline && daemon_->Stderr().find("ignoring outcome of cancelled "
                                                          "assignment") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(daemon_->Stderr(), HasSubstr("ignoring outcome of cancelled assignment"));
}

TEST_F(WorkerProtocolTest, DuplicateOutcomeYieldsOneResult) {
  RawWorker worker(*workers_, "dup", {"tool"});
  ASSERT_NE(worker.ReadRegistered(), "");
  v1::SubmitBatchRequest request;
  AddTask(&request, "t", "tool");
  AddTask(&request, "u", "tool", {"t"});
  const std::string batch_id = Submit(request);
  std::vector<v1::TaskAssignment> t = worker.ReadAssignments(1);
  ASSERT_EQ(t.size(), 1u);
  v1::ConnectRequest twice;
  for (int i = 0; i < 2; ++i) {
    v1::TaskOutcome* o = twice.add_outcomes();
    o->set_assignment_id(t[0].assignment_id());
    o->set_success(true);
  }
  ASSERT_TRUE(worker.Write(twice));
  std::vector<v1::TaskAssignment> u = worker.ReadAssignments(1);
  ASSERT_EQ(u.size(), 1u);
  ASSERT_TRUE(worker.Succeed(u[0].assignment_id(), {}));
  const v1::BatchSummary summary = WaitFinished(batch_id);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(summary.results_size(), 2);
  EXPECT_EQ(summary.total_tasks(), 2u);
}

TEST_F(WorkerProtocolTest, RetryAfterFromTheWorkerDelaysTheRetry) {
  RawWorker worker(*workers_, "busy", {"tool"});
  ASSERT_NE(worker.ReadRegistered(), "");
  v1::SubmitBatchRequest request;
  v1::Task* t = AddTask(&request, "t", "tool");
  t->mutable_retry_policy()->set_max_retries(2);
  t->mutable_retry_policy()->set_initial_delay_ms(0);
  const std::string batch_id = Submit(request);

  std::vector<v1::TaskAssignment> first = worker.ReadAssignments(1);
  ASSERT_EQ(first.size(), 1u);
  const absl::Time failed_at = absl::Now();
  ASSERT_TRUE(worker.Fail(first[0].assignment_id(), "rate limited", false, 800));
  std::vector<v1::TaskAssignment> second = worker.ReadAssignments(1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(absl::Now() - failed_at, absl::Milliseconds(750));
  EXPECT_EQ(second[0].attempt(), 1u);
  ASSERT_TRUE(worker.Succeed(second[0].assignment_id(), {}));
  const v1::BatchSummary summary = WaitFinished(batch_id);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).retry_count(), 1u);
}

TEST_F(WorkerProtocolTest, NonRetryableFailureEndsTheTaskDespiteRetries) {
  RawWorker worker(*workers_, "strict", {"tool"});
  ASSERT_NE(worker.ReadRegistered(), "");
  v1::SubmitBatchRequest request;
  AddTask(&request, "t", "tool")->mutable_retry_policy()->set_max_retries(3);
  const std::string batch_id = Submit(request);
  std::vector<v1::TaskAssignment> first = worker.ReadAssignments(1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(worker.Fail(first[0].assignment_id(), "bad input", true));
  const v1::BatchSummary summary = WaitFinished(batch_id);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(summary.results(0).error(), "bad input");
  EXPECT_EQ(summary.results(0).retry_count(), 0u);
}

TEST_F(WorkerProtocolTest, UnservedExecutorNeedsWaitForWorkers) {
  v1::SubmitBatchRequest request;
  AddTask(&request, "t", "ghost");
  grpc::ClientContext context;
  v1::SubmitBatchResponse response;
  const grpc::Status status = batches_->SubmitBatch(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("Unknown executor 'ghost' of task 't'"));
}

TEST_F(WorkerProtocolTest, TaskWithoutWorkerFailsAfterItsTimeout) {
  v1::SubmitBatchRequest request;
  request.mutable_options()->set_wait_for_workers(true);
  AddTask(&request, "t", "ghost")->set_timeout_ms(400);
  const std::string batch_id = Submit(request);
  const v1::BatchSummary summary = WaitFinished(batch_id);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(summary.results(0).error(), "No worker serves executor 'ghost'");
}

TEST_F(WorkerProtocolTest, PendingTaskRunsWhenAWorkerConnects) {
  v1::SubmitBatchRequest request;
  request.mutable_options()->set_wait_for_workers(true);
  AddTask(&request, "t", "later");
  const std::string batch_id = Submit(request);
  {
    grpc::ClientContext context;
    v1::GetProgressRequest progress_request;
    progress_request.set_batch_id(batch_id);
    v1::GetProgressResponse progress;
    ASSERT_TRUE(batches_->GetProgress(&context, progress_request, &progress).ok());
    EXPECT_EQ(progress.progress().pending_tasks(), 1u);
    EXPECT_EQ(progress.progress().running_tasks(), 0u);
  }
  RawWorker worker(*workers_, "late", {"later"});
  ASSERT_NE(worker.ReadRegistered(), "");
  std::vector<v1::TaskAssignment> assigned = worker.ReadAssignments(1);
  ASSERT_EQ(assigned.size(), 1u);
  ASSERT_TRUE(worker.Succeed(assigned[0].assignment_id(), {}));
  EXPECT_EQ(WaitFinished(batch_id).state(), v1::BATCH_STATE_SUCCEEDED);
}

TEST_F(WorkerProtocolTest, CancelReachesTheWorkerAndTheAckFreesTheSlot) {
  RawWorker worker(*workers_, "c", {"tool"}, /*slots=*/1);
  ASSERT_NE(worker.ReadRegistered(), "");
  v1::SubmitBatchRequest request;
  AddTask(&request, "t", "tool");
  const std::string batch_id = Submit(request);
  std::vector<v1::TaskAssignment> assigned = worker.ReadAssignments(1);
  ASSERT_EQ(assigned.size(), 1u);
  {
    grpc::ClientContext context;
    v1::CancelBatchRequest cancel;
    cancel.set_batch_id(batch_id);
    cancel.set_reason("operator said stop");
    v1::CancelBatchResponse response;
    ASSERT_TRUE(batches_->CancelBatch(&context, cancel, &response).ok());
  }
  std::optional<v1::CancelAssignment> cancel = worker.ReadCancel();
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->assignment_id(), assigned[0].assignment_id());
  EXPECT_EQ(cancel->reason(), "Cancelled: operator said stop");
  v1::ConnectRequest ack;
  ack.add_cancel_acks(assigned[0].assignment_id());
  ASSERT_TRUE(worker.Write(ack));
  EXPECT_EQ(WaitFinished(batch_id).state(), v1::BATCH_STATE_CANCELLED);

  // The single slot is free again: a new batch's task reaches the worker.
  v1::SubmitBatchRequest next;
  AddTask(&next, "n", "tool");
  const std::string next_id = Submit(next);
  std::vector<v1::TaskAssignment> again = worker.ReadAssignments(1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].batch_id(), next_id);
}

TEST_F(WorkerProtocolTest, SilentWorkerIsDroppedAndItsTaskRunsElsewhere) {
  RawWorker silent(*workers_, "silent", {"tool"}, 4, /*heartbeats=*/false);
  ASSERT_NE(silent.ReadRegistered(), "");
  v1::SubmitBatchRequest request;
  AddTask(&request, "t", "tool");
  const std::string batch_id = Submit(request);
  ASSERT_EQ(silent.ReadAssignments(1).size(), 1u);

  RawWorker alive(*workers_, "alive", {"tool"});
  const std::string alive_id = alive.ReadRegistered();
  ASSERT_NE(alive_id, "");

  // 3 intervals of 500 ms without a message: the daemon ends the silent stream.
  v1::ConnectResponse ignored;
  while (silent.Read(&ignored)) {
  }
  const grpc::Status status = silent.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), StartsWith("Worker dropped: no heartbeat for "));

  std::vector<v1::TaskAssignment> moved = alive.ReadAssignments(1);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].task_id(), "t");
  EXPECT_EQ(moved[0].attempt(), 0u);  // a lost worker does not spend the retry budget
  ASSERT_TRUE(alive.Succeed(moved[0].assignment_id(), {}));
  const v1::BatchSummary summary = WaitFinished(batch_id);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).worker_id(), alive_id);
  EXPECT_EQ(summary.results(0).retry_count(), 0u);
}

TEST_F(WorkerProtocolTest, ExecutorIsForgottenWhenItsLastWorkerLeavesAndServedAgainOnReconnect) {
  {
    RawWorker worker(*workers_, "node", {"node.upper"}, 2);
    ASSERT_NE(worker.ReadRegistered(), "");
    std::optional<v1::ExecutorInfo> listed = Listed("node.upper");
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(listed->kind(), "worker");
    EXPECT_EQ(listed->workers(), 1u);
    EXPECT_EQ(listed->capacity(), 2u);
    v1::SubmitBatchRequest request;
    AddTask(&request, "t", "node.upper");
    const std::string batch_id = Submit(request);
    std::vector<v1::TaskAssignment> assigned = worker.ReadAssignments(1);
    ASSERT_EQ(assigned.size(), 1u);
    ASSERT_TRUE(worker.Succeed(assigned[0].assignment_id(), {}));
    EXPECT_EQ(WaitFinished(batch_id).state(), v1::BATCH_STATE_SUCCEEDED);
    EXPECT_TRUE(worker.Finish().ok());
  }
  // Its last worker left and no unfinished batch names it: unknown again, refused at submit.
  ASSERT_TRUE(WaitUnlisted("node.upper"));
  {
    v1::SubmitBatchRequest request;
    AddTask(&request, "t", "node.upper");
    grpc::ClientContext context;
    v1::SubmitBatchResponse response;
    const grpc::Status status = batches_->SubmitBatch(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(
        status.error_message(),
        "Unknown executor 'node.upper' of task 't' (known: echo, external, fail, http, sleep)");
  }
  // With wait_for_workers it is accepted, waits, and runs once a worker serves the name again.
  v1::SubmitBatchRequest request;
  request.mutable_options()->set_wait_for_workers(true);
  AddTask(&request, "t", "node.upper");
  const std::string batch_id = Submit(request);
  std::optional<v1::ExecutorInfo> waiting = Listed("node.upper");
  ASSERT_TRUE(waiting.has_value());
  EXPECT_EQ(waiting->workers(), 0u);
  RawWorker again(*workers_, "node", {"node.upper"});
  ASSERT_NE(again.ReadRegistered(), "");
  std::vector<v1::TaskAssignment> assigned = again.ReadAssignments(1);
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].batch_id(), batch_id);
  ASSERT_TRUE(again.Succeed(assigned[0].assignment_id(), {}));
  EXPECT_EQ(WaitFinished(batch_id).state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(Listed("node.upper")->workers(), 1u);
}

TEST_F(WorkerProtocolTest, ListExecutorsCountsWorkersAndSlots) {
  RawWorker a(*workers_, "a", {"tool", "other"}, 3);
  RawWorker b(*workers_, "b", {"tool"}, 5);
  ASSERT_NE(a.ReadRegistered(), "");
  ASSERT_NE(b.ReadRegistered(), "");
  grpc::ClientContext context;
  v1::ListExecutorsResponse response;
  ASSERT_TRUE(batches_->ListExecutors(&context, {}, &response).ok());
  std::map<std::string, v1::ExecutorInfo> by_name;
  for (const v1::ExecutorInfo& e : response.executors()) by_name[e.name()] = e;
  ASSERT_EQ(by_name.count("tool"), 1u);
  EXPECT_EQ(by_name["tool"].kind(), "worker");
  EXPECT_EQ(by_name["tool"].workers(), 2u);
  EXPECT_EQ(by_name["tool"].capacity(), 8u);
  EXPECT_EQ(by_name["other"].workers(), 1u);
  EXPECT_EQ(by_name["other"].capacity(), 3u);
  EXPECT_EQ(by_name["echo"].kind(), "builtin");
}

TEST_F(WorkerProtocolTest, ListWorkersReportsEachWorkerAndForgetsOneThatLeft) {
  EXPECT_EQ(ListWorkers().workers_size(), 0);
  const auto before = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  RawWorker alpha(*workers_, "alpha", {"tool"}, 2);
  const std::string alpha_id = alpha.ReadRegistered();
  ASSERT_THAT(alpha_id, StartsWith("alpha#"));
  v1::WorkerRegistration registration = RawWorker::Registration("beta", {"other", "tool"}, 3);
  registration.set_weight(2.5);
  (*registration.mutable_labels())["zone"] = "eu-1";
  RawWorker beta(*workers_, registration);
  const std::string beta_id = beta.ReadRegistered();
  ASSERT_THAT(beta_id, StartsWith("beta#"));
  const auto after = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));

  // alpha fills its 2 slots with "tool" tasks; beta, the only "other" worker, takes "o".
  v1::SubmitBatchRequest request;
  AddTask(&request, "o", "other");
  const std::string batch_id = Submit(request);
  std::vector<v1::TaskAssignment> on_beta = beta.ReadAssignments(1);
  ASSERT_EQ(on_beta.size(), 1u);
  v1::SubmitBatchRequest tools;
  for (const char* id : {"t1", "t2"}) AddTask(&tools, id, "tool");
  const std::string tools_id = Submit(tools);
  // Least-loaded or round robin, the 2 tool tasks may land on either worker; count per worker.
  v1::ListWorkersResponse listed = WaitForWorkers([](const v1::ListWorkersResponse& r) {
    uint32_t in_use = 0;
    for (const v1::WorkerInfo& w : r.workers()) in_use += w.slots_in_use();
    return in_use == 3;
  });
  ASSERT_EQ(listed.workers_size(), 2);
  const v1::WorkerInfo& a = listed.workers(0);
  const v1::WorkerInfo& b = listed.workers(1);
  EXPECT_EQ(a.worker_id(), alpha_id);
  EXPECT_EQ(a.name(), "alpha");
  EXPECT_THAT(a.executors(), ElementsAre("tool"));
  EXPECT_EQ(a.slots(), 2u);
  EXPECT_EQ(a.weight(), 1.0);
  EXPECT_TRUE(a.labels().empty());
  EXPECT_THAT(a.peer(), StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(b.worker_id(), beta_id);
  EXPECT_EQ(b.name(), "beta");
  EXPECT_THAT(b.executors(), ElementsAre("other", "tool"));
  EXPECT_EQ(b.slots(), 3u);
  EXPECT_EQ(b.weight(), 2.5);
  ASSERT_EQ(b.labels().size(), 1u);
  EXPECT_EQ(b.labels().at("zone"), "eu-1");
  EXPECT_THAT(b.peer(), StartsWith("ipv4:127.0.0.1:"));
  for (const v1::WorkerInfo& w : listed.workers()) {
    EXPECT_GE(w.connected_at(), before) << w.worker_id();
    EXPECT_LE(w.connected_at(), after) << w.worker_id();
    EXPECT_EQ(w.completed_tasks(), 0u) << w.worker_id();
    EXPECT_LE(w.slots_in_use(), w.slots()) << w.worker_id();
  }
  EXPECT_GE(b.slots_in_use(), 1u);  // "o" at least

  // Every worker completes what it holds; each one's count is the outcomes it reported.
  const uint32_t on_alpha = a.slots_in_use();
  std::vector<v1::TaskAssignment> alpha_tasks = alpha.ReadAssignments(on_alpha);
  std::vector<v1::TaskAssignment> beta_tools = beta.ReadAssignments(b.slots_in_use() - 1);
  ASSERT_EQ(alpha_tasks.size() + beta_tools.size(), 2u);
  for (const v1::TaskAssignment& t : alpha_tasks) EXPECT_TRUE(alpha.Succeed(t.assignment_id(), {}));
  for (const v1::TaskAssignment& t : beta_tools) EXPECT_TRUE(beta.Succeed(t.assignment_id(), {}));
  EXPECT_TRUE(beta.Succeed(on_beta[0].assignment_id(), {}));
  EXPECT_EQ(WaitFinished(batch_id).state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(WaitFinished(tools_id).state(), v1::BATCH_STATE_SUCCEEDED);
  listed = ListWorkers();
  ASSERT_EQ(listed.workers_size(), 2);
  EXPECT_EQ(listed.workers(0).completed_tasks(), on_alpha);
  EXPECT_EQ(listed.workers(1).completed_tasks(), 3u - on_alpha);
  for (const v1::WorkerInfo& w : listed.workers()) EXPECT_EQ(w.slots_in_use(), 0u);

  EXPECT_TRUE(alpha.Finish().ok());
  listed = WaitForWorkers([](const v1::ListWorkersResponse& r) { return r.workers_size() == 1; });
  ASSERT_EQ(listed.workers_size(), 1);
  EXPECT_EQ(listed.workers(0).worker_id(), beta_id);
  EXPECT_TRUE(beta.Finish().ok());
  EXPECT_EQ(WaitForWorkers([](const v1::ListWorkersResponse& r) {
              return r.workers_size() == 0;
            }).workers_size(),
            0);
}

TEST(WorkerServiceAuthTest, ListWorkersNeedsTheBearerToken) {
  absl::StatusOr<std::string> dir = testing::MakeTempDir("list-workers-auth");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string token_file = *dir + "/token";
  {
    std::ofstream out(token_file);
    out << "list-workers-token-0123456789\n";
  }
  absl::StatusOr<std::unique_ptr<testing::DaemonProcess>> daemon =
      testing::DaemonProcess::Start({"--auth-token-file=" + token_file});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::unique_ptr<v1::WorkerService::Stub> stub = (*daemon)->NewWorkerStub();
  for (const std::string& authorization : {std::string(), std::string("Bearer wrong"),
                                           std::string("Bearer list-workers-token-0123456789")}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kStreamTimeout);
    if (!authorization.empty()) context.AddMetadata("authorization", authorization);
    v1::ListWorkersResponse response;
    const grpc::Status status = stub->ListWorkers(&context, {}, &response);
    if (authorization == "Bearer list-workers-token-0123456789") {
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(response.workers_size(), 0);
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << authorization;
      EXPECT_EQ(status.error_message(), "missing or invalid bearer token") << authorization;
    }
  }
  daemon->reset();
  testing::RemoveTree(*dir);
}

}  // namespace
}  // namespace batchd
