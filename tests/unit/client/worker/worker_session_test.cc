// Tests for WorkerSession against an in-process WorkerService whose Connect each test scripts:
// registration, assignments to a recording handler, batched outcomes, cancel acks, heartbeats,
// reconnecting, rejection and a clean stop.
#include "client/worker/worker_session.h"

#include <gmock/gmock.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace batchd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ServerStream = grpc::ServerReaderWriter<v1::ConnectResponse, v1::ConnectRequest>;

// Bounds every wait so a broken session fails the test instead of hanging it.
constexpr absl::Duration kWait = absl::Seconds(30);

// Connect runs the test's script, one call per connection (numbered from 0).
class ScriptedWorkerService final : public v1::WorkerService::Service {
 public:
  using Script = std::function<grpc::Status(int connection, ServerStream& stream)>;

  void SetScript(Script script) { script_ = std::move(script); }

  grpc::Status Connect(grpc::ServerContext* /*context*/, ServerStream* stream) override {
    int connection = 0;
    {
      absl::MutexLock lock(&mu_);
      connection = connections_++;
      ++running_;
    }
    grpc::Status status = script_(connection, *stream);
    absl::MutexLock lock(&mu_);
    --running_;
    return status;
  }

  // Waits until no script runs. What scripts wrote is then safe to read: the wait orders it
  // (through mu_) before the reads, which gRPC's own hand-offs do not do visibly to TSan.
  bool WaitUntilIdle(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* running) { return *running == 0; }, &running_),
                                timeout);
  }

 private:
  Script script_;
  absl::Mutex mu_;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

// Records what the session hands it; replies at once unless told to hold replies.
class RecordingHandler final : public TaskHandler {
 public:
  explicit RecordingHandler(bool hold_replies) : hold_replies_(hold_replies) {}

  void Start(const v1::TaskAssignment& assignment, Reply reply) override {
    if (!hold_replies_) {
      v1::TaskOutcome outcome;
      outcome.set_success(true);
      outcome.mutable_output()->set_string_value(assignment.task_id());
      reply(std::move(outcome));
    }
    absl::MutexLock lock(&mu_);
    started_.push_back(assignment.assignment_id());
    if (hold_replies_) replies_[assignment.assignment_id()] = std::move(reply);
  }

  void Cancel(const std::string& assignment_id) override {
    absl::MutexLock lock(&mu_);
    cancelled_.push_back(assignment_id);
  }

  // Replies for a held assignment (from the calling thread).
  void ReplyTo(const std::string& assignment_id, const std::string& error) {
    Reply reply;
    {
      absl::MutexLock lock(&mu_);
      reply = replies_[assignment_id];
    }
    v1::TaskOutcome outcome;
    outcome.set_error(error);
    reply(std::move(outcome));
  }

  bool AwaitCancelled(const std::string& assignment_id) {
    absl::MutexLock lock(&mu_);
    const auto cancelled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(cancelled_.begin(), cancelled_.end(), assignment_id) != cancelled_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&cancelled), kWait);
  }

  bool AwaitStarted(size_t count) {
    absl::MutexLock lock(&mu_);
    const auto started = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return started_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&started), kWait);
  }

  std::vector<std::string> started() const {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  std::vector<std::string> cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

 private:
  const bool hold_replies_;
  mutable absl::Mutex mu_;
  std::vector<std::string> started_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cancelled_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Reply> replies_ ABSL_GUARDED_BY(mu_);
};

v1::ConnectResponse Registered(const std::string& worker_id, uint32_t heartbeat_ms = 0) {
  v1::ConnectResponse response;
  response.mutable_registered()->set_worker_id(worker_id);
  response.mutable_registered()->set_heartbeat_interval_ms(heartbeat_ms);
  return response;
}

v1::TaskAssignment Assignment(const std::string& id) {
  v1::TaskAssignment assignment;
  assignment.set_assignment_id(id);
  assignment.set_task_id(absl::StrCat("task-", id));
  return assignment;
}

// Reads until `count` outcomes have arrived; the messages read.
std::vector<v1::ConnectRequest> ReadOutcomes(ServerStream& stream, int count) {
  std::vector<v1::ConnectRequest> requests;
  int outcomes = 0;
  v1::ConnectRequest request;
  while (outcomes < count && stream.Read(&request)) {
    outcomes += request.outcomes_size();
    requests.push_back(request);
  }
  EXPECT_EQ(outcomes, count);
  return requests;
}

class WorkerSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    options_.address = absl::StrCat("127.0.0.1:", port);
    options_.name = "w";
    options_.executors = {"e1", "e2"};
    options_.slots = 8;
    options_.weight = 2;
    options_.labels = {{"zone", "a"}};
    options_.initial_backoff = absl::Milliseconds(1);
    options_.max_backoff = absl::Milliseconds(10);
    options_.send_heartbeats = false;
  }

  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }

  // Runs the session on a thread of its own; Join returns what Run returned.
  void StartSession(TaskHandler& handler) {
    session_ = std::make_unique<WorkerSession>(options_, handler);
    runner_ = std::thread([this] { run_status_ = session_->Run(); });
  }
  // Also waits for the server's scripts, which end once the session has closed its stream.
  absl::Status Join() {
    runner_.join();
    EXPECT_TRUE(service_.WaitUntilIdle(kWait)) << "a script still runs after the session ended";
    return run_status_;
  }

  ScriptedWorkerService service_;
  std::unique_ptr<grpc::Server> server_;
  WorkerSessionOptions options_;
  std::unique_ptr<WorkerSession> session_;
  std::thread runner_;
  absl::Status run_status_;
};

TEST_F(WorkerSessionTest, RegistersRunsAssignmentsAndBatchesOutcomes) {
  constexpr int kTasks = 500;
  RecordingHandler handler(/*hold_replies=*/false);
  std::optional<v1::ConnectRequest> registration;
  std::vector<v1::ConnectRequest> requests;
  bool writes_done = false;
  service_.SetScript([&](int /*connection*/, ServerStream& stream) {
    v1::ConnectRequest request;
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    registration = request;
    v1::ConnectResponse response = Registered("worker-1");
    for (int i = 0; i < kTasks; ++i) *response.add_assignments() = Assignment(absl::StrCat(i));
    stream.Write(response);
    requests = ReadOutcomes(stream, kTasks);
    session_->Stop();
    writes_done = !stream.Read(&request);
    return grpc::Status::OK;
  });
  std::optional<std::string> worker_id;
  options_.on_registered = [&](const v1::WorkerRegistered& registered) {
    worker_id = registered.worker_id();
  };
  StartSession(handler);
  EXPECT_TRUE(Join().ok());

  ASSERT_TRUE(registration.has_value());
  EXPECT_EQ(registration->registration().name(), "w");
  EXPECT_THAT(registration->registration().executors(), ElementsAre("e1", "e2"));
  EXPECT_EQ(registration->registration().slots(), 8u);
  EXPECT_EQ(registration->registration().weight(), 2);
  EXPECT_EQ(registration->registration().labels().at("zone"), "a");
  EXPECT_EQ(worker_id, "worker-1");
  EXPECT_EQ(handler.started().size(), static_cast<size_t>(kTasks));
  // Outcomes ready together travel together: far fewer messages than outcomes.
  EXPECT_LT(requests.size(), static_cast<size_t>(kTasks / 2));
  EXPECT_EQ(requests.front().outcomes(0).assignment_id(), "0");
  EXPECT_EQ(requests.front().outcomes(0).output().string_value(), "task-0");
  EXPECT_FALSE(requests.front().has_heartbeat());
  EXPECT_TRUE(writes_done);
  EXPECT_THAT(handler.cancelled(), IsEmpty());
}

TEST_F(WorkerSessionTest, CancelIsAckedAfterTheHandlersReplyOrAtOnce) {
  RecordingHandler handler(/*hold_replies=*/true);
  std::vector<v1::ConnectRequest> after_cancel;
  service_.SetScript([&](int /*connection*/, ServerStream& stream) {
    v1::ConnectRequest request;
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    v1::ConnectResponse response = Registered("worker-1");
    *response.add_assignments() = Assignment("a1");
    stream.Write(response);
    response.Clear();
    response.add_cancels()->set_assignment_id("a1");
    response.add_cancels()->set_assignment_id("gone");  // not in flight: acked at once
    stream.Write(response);
    EXPECT_TRUE(handler.AwaitCancelled("a1"));
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    after_cancel.push_back(request);
    handler.ReplyTo("a1", "cancelled");
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    after_cancel.push_back(request);
    session_->Stop();
    while (stream.Read(&request)) {
    }
    return grpc::Status::OK;
  });
  StartSession(handler);
  EXPECT_TRUE(Join().ok());

  ASSERT_EQ(after_cancel.size(), 2u);
  EXPECT_THAT(after_cancel[0].cancel_acks(), ElementsAre("gone"));
  EXPECT_EQ(after_cancel[0].outcomes_size(), 0);
  EXPECT_THAT(after_cancel[1].cancel_acks(), ElementsAre("a1"));
  ASSERT_EQ(after_cancel[1].outcomes_size(), 1);
  EXPECT_EQ(after_cancel[1].outcomes(0).error(), "cancelled");
  EXPECT_THAT(handler.cancelled(), ElementsAre("a1"));
}

TEST_F(WorkerSessionTest, ReconnectsAfterTheStreamBreaksAndDropsTheOldWork) {
  RecordingHandler handler(/*hold_replies=*/true);
  std::vector<v1::ConnectRequest> second_connection;
  absl::Notification reregistered;
  service_.SetScript([&](int connection, ServerStream& stream) {
    v1::ConnectRequest request;
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    if (connection == 0) {
      v1::ConnectResponse response = Registered("worker-1");
      *response.add_assignments() = Assignment("old");
      stream.Write(response);
      EXPECT_TRUE(handler.AwaitStarted(1));
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "daemon restarting");
    }
    EXPECT_TRUE(request.has_registration());
    stream.Write(Registered("worker-2"));
    // A Stop before the worker has seen its registration would cancel the stream instead.
    EXPECT_TRUE(reregistered.WaitForNotificationWithTimeout(kWait));
    // The old connection's work was cancelled before this registration; its late reply is
    // not sent on the new connection.
    EXPECT_THAT(handler.cancelled(), ElementsAre("old"));
    handler.ReplyTo("old", "too late");
    session_->Stop();
    while (stream.Read(&request)) second_connection.push_back(request);
    return grpc::Status::OK;
  });
  std::vector<std::string> worker_ids;
  options_.on_registered = [&](const v1::WorkerRegistered& registered) {
    worker_ids.push_back(registered.worker_id());
    if (registered.worker_id() == "worker-2") reregistered.Notify();
  };
  StartSession(handler);
  EXPECT_TRUE(Join().ok());

  EXPECT_THAT(worker_ids, ElementsAre("worker-1", "worker-2"));
  for (const v1::ConnectRequest& request : second_connection) {
    EXPECT_EQ(request.outcomes_size(), 0) << request.DebugString();
  }
}

TEST_F(WorkerSessionTest, RejectedRegistrationEndsRun) {
  RecordingHandler handler(/*hold_replies=*/false);
  int connections = 0;
  service_.SetScript([&](int connection, ServerStream& stream) {
    connections = connection + 1;
    v1::ConnectRequest request;
    stream.Read(&request);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "registration.executors: empty");
  });
  StartSession(handler);
  const absl::Status status = Join();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "registration.executors: empty");
  EXPECT_EQ(connections, 1);
}

TEST_F(WorkerSessionTest, RetriesWhenRegistrationFailsOtherwise) {
  RecordingHandler handler(/*hold_replies=*/false);
  service_.SetScript([&](int connection, ServerStream& stream) {
    v1::ConnectRequest request;
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    if (connection < 2) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not yet");
    stream.Write(Registered("worker-1"));
    while (stream.Read(&request)) {  // until the worker's WritesDone
    }
    return grpc::Status::OK;
  });
  std::vector<std::string> worker_ids;
  options_.on_registered = [&](const v1::WorkerRegistered& registered) {
    worker_ids.push_back(registered.worker_id());
    session_->Stop();
  };
  StartSession(handler);
  EXPECT_TRUE(Join().ok());
  EXPECT_THAT(worker_ids, ElementsAre("worker-1"));
}

TEST_F(WorkerSessionTest, StopWhileRegisteringEndsRun) {
  RecordingHandler handler(/*hold_replies=*/false);
  absl::Notification registration_read;
  service_.SetScript([&](int /*connection*/, ServerStream& stream) {
    v1::ConnectRequest request;
    stream.Read(&request);
    registration_read.Notify();
    while (stream.Read(&request)) {  // never answers; ends when the worker cancels
    }
    return grpc::Status::OK;
  });
  StartSession(handler);
  ASSERT_TRUE(registration_read.WaitForNotificationWithTimeout(kWait));
  session_->Stop();
  EXPECT_TRUE(Join().ok());
}

TEST_F(WorkerSessionTest, SendsHeartbeatsAtTheDaemonsInterval) {
  RecordingHandler handler(/*hold_replies=*/false);
  options_.send_heartbeats = true;
  absl::Mutex mu;
  std::optional<v1::ConnectRequest> heartbeat;  // guarded by mu: the server thread writes it
  const absl::Time before = absl::Now();
  service_.SetScript([&](int /*connection*/, ServerStream& stream) {
    v1::ConnectRequest request;
    if (!stream.Read(&request)) return grpc::Status::CANCELLED;
    stream.Write(Registered("worker-1", /*heartbeat_ms=*/1));
    while (stream.Read(&request)) {
      if (request.has_heartbeat()) {
        absl::MutexLock lock(&mu);
        heartbeat = request;
        session_->Stop();
        break;  // the handler must not touch the test's locals after the test body ends
      }
    }
    return grpc::Status::OK;
  });
  StartSession(handler);
  EXPECT_TRUE(Join().ok());
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(heartbeat.has_value());
  EXPECT_GE(heartbeat->heartbeat().sent_at().seconds(), absl::ToUnixSeconds(before));
}

TEST_F(WorkerSessionTest, BadAddressIsInvalidArgument) {
  RecordingHandler handler(/*hold_replies=*/false);
  options_.address = "no-port";
  WorkerSession session(options_, handler);
  EXPECT_EQ(session.Run().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace batchd::client
