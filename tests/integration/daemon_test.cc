// Starts the real batchd binary and talks to it as clients do: through generated stubs.
#include <grpcpp/client_context.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::batchd::testing::CommandResult;
using ::batchd::testing::DaemonProcess;
using ::batchd::testing::RunCommand;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr std::chrono::seconds kCallTimeout{30};
constexpr absl::Duration kExitTimeout = absl::Seconds(30);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

v1::Task* AddTask(google::protobuf::RepeatedPtrField<v1::Task>* tasks, const std::string& id,
                  std::vector<std::string> dependencies = {}) {
  v1::Task* task = tasks->Add();
  task->set_id(id);
  for (std::string& dependency : dependencies) task->add_dependencies(std::move(dependency));
  return task;
}

std::vector<std::vector<std::string>> LayerIds(
    const google::protobuf::RepeatedPtrField<v1::Layer>& layers) {
  std::vector<std::vector<std::string>> ids;
  for (const v1::Layer& layer : layers) {
    ids.emplace_back(layer.task_ids().begin(), layer.task_ids().end());
  }
  return ids;
}

// The task ids of "Circular dependency: a -> b -> a".
std::set<std::string> CycleTasks(const std::string& message) {
  absl::string_view path = message;
  if (!absl::ConsumePrefix(&path, "Circular dependency: ")) return {};
  std::set<std::string> tasks;
  for (absl::string_view id : absl::StrSplit(path, " -> ")) tasks.emplace(id);
  return tasks;
}

class DaemonTest : public testing::DaemonTestBase {
 protected:
  grpc::Status Resolve(const v1::ResolveExecutionOrderRequest& request,
                       v1::ResolveExecutionOrderResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return batches_->ResolveExecutionOrder(&context, request, response);
  }

  grpc::Status Assign(const v1::AssignTasksRequest& request, v1::AssignTasksResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return batches_->AssignTasks(&context, request, response);
  }
};

TEST_F(DaemonTest, HealthCheckIsServing) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health = daemon_->NewHealthStub();
  for (const char* service : {"", "batchd.v1.BatchService", "batchd.v1.WorkerService"}) {
    grpc::ClientContext context;
    SetDeadline(&context);
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = health->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(DaemonTest, HealthCheckOfUnknownServiceIsNotFound) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health = daemon_->NewHealthStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  HealthCheckRequest request;
  request.set_service("batchd.v1.NoSuchService");
  HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DaemonTest, ResolveExecutionOrderOfDiamond) {
  v1::ResolveExecutionOrderRequest request;
  AddTask(request.mutable_tasks(), "a");
  AddTask(request.mutable_tasks(), "b", {"a"});
  AddTask(request.mutable_tasks(), "c", {"a"});
  AddTask(request.mutable_tasks(), "d", {"b", "c"});

  v1::ResolveExecutionOrderResponse response;
  grpc::Status status = Resolve(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(LayerIds(response.layers()),
              ElementsAre(ElementsAre("a"), ElementsAre("b", "c"), ElementsAre("d")));
  EXPECT_THAT(response.critical_path(), ElementsAre("a", "b", "d"));
}

TEST_F(DaemonTest, ResolveExecutionOrderCriticalPathFollowsLongestChain) {
  v1::ResolveExecutionOrderRequest request;
  AddTask(request.mutable_tasks(), "short");
  AddTask(request.mutable_tasks(), "x");
  AddTask(request.mutable_tasks(), "y", {"x"});
  AddTask(request.mutable_tasks(), "z", {"y"});
  AddTask(request.mutable_tasks(), "end", {"short", "z"});

  v1::ResolveExecutionOrderResponse response;
  ASSERT_TRUE(Resolve(request, &response).ok());
  EXPECT_THAT(response.critical_path(), ElementsAre("x", "y", "z", "end"));
}

TEST_F(DaemonTest, TwoCycleIsRejectedNamingItsTasks) {
  v1::ResolveExecutionOrderRequest request;
  AddTask(request.mutable_tasks(), "root");
  AddTask(request.mutable_tasks(), "a", {"root", "b"});
  AddTask(request.mutable_tasks(), "b", {"a"});
  AddTask(request.mutable_tasks(), "after", {"b"});

  v1::ResolveExecutionOrderResponse response;
  grpc::Status status = Resolve(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(CycleTasks(status.error_message()), UnorderedElementsAre("a", "b"))
      << status.error_message();
}

TEST_F(DaemonTest, ThreeCycleIsRejectedNamingItsTasks) {
  v1::ResolveExecutionOrderRequest request;
  AddTask(request.mutable_tasks(), "free");
  AddTask(request.mutable_tasks(), "a", {"c"});
  AddTask(request.mutable_tasks(), "b", {"a"});
  AddTask(request.mutable_tasks(), "c", {"b"});
  AddTask(request.mutable_tasks(), "tail", {"a", "free"});

  v1::ResolveExecutionOrderResponse response;
  grpc::Status status = Resolve(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(CycleTasks(status.error_message()), UnorderedElementsAre("a", "b", "c"))
      << status.error_message();
}

TEST_F(DaemonTest, UnknownDependencyCarriesBadRequestDetails) {
  v1::ResolveExecutionOrderRequest request;
  AddTask(request.mutable_tasks(), "a");
  AddTask(request.mutable_tasks(), "b", {"ghost"});

  v1::ResolveExecutionOrderResponse response;
  grpc::Status status = Resolve(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Unknown dependency 'ghost' of task 'b'");

  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()))
      << "grpc-status-details-bin must hold a google.rpc.Status";
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "tasks[1].dependencies[0]");
  EXPECT_EQ(bad_request.field_violations(0).description(),
            "Unknown dependency 'ghost' of task 'b'");
}

TEST_F(DaemonTest, AssignTasksRoundRobin) {
  v1::AssignTasksRequest request;
  for (const char* id : {"t0", "t1", "t2", "t3", "t4"}) AddTask(request.mutable_tasks(), id);
  request.set_workers(2);
  request.set_strategy(v1::LOAD_BALANCER_ROUND_ROBIN);

  v1::AssignTasksResponse response;
  grpc::Status status = Assign(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(LayerIds(response.assignments()),
              ElementsAre(ElementsAre("t0", "t2", "t4"), ElementsAre("t1", "t3")));
}

TEST_F(DaemonTest, AssignTasksUnspecifiedStrategyIsLeastLoaded) {
  v1::AssignTasksRequest request;
  AddTask(request.mutable_tasks(), "low")->set_priority(1);
  AddTask(request.mutable_tasks(), "high")->set_priority(9);
  AddTask(request.mutable_tasks(), "mid")->set_priority(5);
  request.set_workers(2);

  v1::AssignTasksResponse response;
  ASSERT_TRUE(Assign(request, &response).ok());
  EXPECT_THAT(LayerIds(response.assignments()),
              ElementsAre(ElementsAre("high", "low"), ElementsAre("mid")));
}

TEST_F(DaemonTest, AssignTasksToZeroWorkersIsInvalid) {
  v1::AssignTasksRequest request;
  AddTask(request.mutable_tasks(), "a");
  v1::AssignTasksResponse response;
  grpc::Status status = Assign(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Number of workers must be greater than 0");
}

TEST_F(DaemonTest, AssignTasksUnknownStrategyNamesTheField) {
  v1::AssignTasksRequest request;
  AddTask(request.mutable_tasks(), "a");
  request.set_workers(1);
  request.set_strategy(static_cast<v1::LoadBalancer>(99));
  v1::AssignTasksResponse response;
  grpc::Status status = Assign(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "strategy: unknown value 99");
}

TEST_F(DaemonTest, ListExecutorsNamesTheBuiltins) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListExecutorsResponse response;
  grpc::Status status = batches_->ListExecutors(&context, v1::ListExecutorsRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> names;
  for (const v1::ExecutorInfo& info : response.executors()) {
    names.push_back(info.name());
    EXPECT_EQ(info.kind(), "builtin") << info.name();
    EXPECT_EQ(info.capacity(), 0u) << info.name();
  }
  // Sorted by name; shell is off by default.
  EXPECT_THAT(names, ElementsAre("echo", "external", "fail", "http", "sleep"));
}

TEST_F(DaemonTest, EmptyBatchSucceedsAndUnknownBatchStreamsNotFound) {
  grpc::ClientContext submit_context;
  SetDeadline(&submit_context);
  v1::ProcessBatchResponse processed;
  grpc::Status status =
      batches_->ProcessBatch(&submit_context, v1::ProcessBatchRequest(), &processed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(processed.summary().state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(processed.summary().total_tasks(), 0u);
  EXPECT_EQ(processed.batch_id().size(), 16u);

  grpc::ClientContext stream_context;
  SetDeadline(&stream_context);
  v1::StreamResultsRequest request;
  request.set_batch_id("nope");
  std::unique_ptr<grpc::ClientReader<v1::StreamResultsResponse>> results =
      batches_->StreamResults(&stream_context, request);
  v1::StreamResultsResponse result;
  EXPECT_FALSE(results->Read(&result));
  status = results->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "Batch 'nope' not found");
}

TEST_F(DaemonTest, SigtermClosesIdleWorkerStreamsWellWithinTheGrace) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
      DaemonProcess::Start({"--shutdown-grace=120s"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::unique_ptr<v1::WorkerService::Stub> workers = (*daemon)->NewWorkerStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = workers->Connect(&context);
  v1::ConnectRequest registration;
  registration.mutable_registration()->set_name("idle");
  registration.mutable_registration()->add_executors("tool");
  registration.mutable_registration()->set_slots(1);
  ASSERT_TRUE(stream->Write(registration));
  v1::ConnectResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_FALSE(response.registered().worker_id().empty());

  const absl::Time signalled = absl::Now();
  ASSERT_TRUE((*daemon)->SendSignal(SIGTERM).ok());
  // No batch needs the worker: its stream is ended at once instead of holding the shutdown.
  while (stream->Read(&response)) {
  }
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "batchd is shutting down");
  absl::StatusOr<int> exit_code = (*daemon)->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(60));
}

TEST_F(DaemonTest, SigtermEndsHealthWatchAndExitsZeroWellWithinTheGrace) {
  // The fixture's daemon has the default 5 s grace; use a long one to show that open watches
  // are ended rather than waited out.
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
      DaemonProcess::Start({"--shutdown-grace=120s"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::unique_ptr<grpc::health::v1::Health::Stub> health = (*daemon)->NewHealthStub();
  grpc::ClientContext context;
  SetDeadline(&context);
  auto watch = health->Watch(&context, HealthCheckRequest());
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  ASSERT_TRUE((*daemon)->SendSignal(SIGTERM).ok());
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(watch->Read(&response));
  EXPECT_TRUE(watch->Finish().ok());

  absl::StatusOr<int> exit_code = (*daemon)->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << (*daemon)->Stderr();
}

TEST_F(DaemonTest, SigintExitsZero) {
  ASSERT_TRUE(daemon_->SendSignal(SIGINT).ok());
  absl::StatusOr<int> exit_code = daemon_->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << daemon_->Stderr();
}

TEST_F(DaemonTest, TakenPortIsRefusedWithExitCodeOne) {
  const std::string listen = daemon_->address();  // 127.0.0.1:<port in use>
  absl::StatusOr<CommandResult> second =
      RunCommand({DaemonProcess::BinaryPath(), absl::StrCat("--listen=", listen),
                  "--durability=none"},  // no ./batchd-data shared with other tests
                 kExitTimeout);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_THAT(second->stderr_text,
              HasSubstr(absl::StrCat("batchd: cannot listen on ", listen,
                                     ": address already in use (or not permitted)")));
  EXPECT_EQ(second->stdout_text, "");
}

TEST(DaemonFlagsTest, InvalidLogLevelIsRefusedWithExitCodeTwo) {
  absl::StatusOr<CommandResult> result = RunCommand(
      {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--log-level=loud"}, kExitTimeout);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text,
              HasSubstr("batchd: invalid --log-level 'loud': expected one of trace, debug, "
                        "info, warn, error"));
  EXPECT_EQ(result->stdout_text, "");
}

TEST(DaemonFlagsTest, FlagFileUsesTheSameDashedNames) {
  const std::string path = absl::StrCat(::testing::TempDir(), "batchd_flags_", getpid());
  {
    std::ofstream file(path);
    file << "--listen=127.0.0.1:0\n--log-level=debug\n--shutdown-grace=1s\n";
  }
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
      DaemonProcess::Start({absl::StrCat("--flagfile=", path)});
  std::remove(path.c_str());
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  ASSERT_TRUE((*daemon)->SendSignal(SIGTERM).ok());
  absl::StatusOr<int> exit_code = (*daemon)->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_THAT((*daemon)->Stderr(), HasSubstr("debug")) << "--log-level=debug from the file";
}

TEST(DaemonFlagsTest, BadFlagIsExitTwoEvenWhenTheDataDirectoryIsInUse) {
  absl::StatusOr<std::string> data_dir = testing::MakeTempDir("batchd-bad-flag");
  ASSERT_TRUE(data_dir.ok()) << data_dir.status();
  {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> holder =
        DaemonProcess::Start({"--data-dir=" + *data_dir});
    ASSERT_TRUE(holder.ok()) << holder.status();
    for (const auto& [flag, message] :
         {std::pair<std::string, std::string>{"--plugin-threads=0",
                                              "invalid --plugin-threads 0: must be between 1 "
                                              "and 256"},
          {"--shell-kill-grace=-1s",
           "invalid --shell-kill-grace -1s: must be between 0s and "
           "10m"}}) {
      absl::StatusOr<CommandResult> second = RunCommand(
          {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--data-dir=" + *data_dir, flag},
          kExitTimeout);
      ASSERT_TRUE(second.ok()) << second.status();
      EXPECT_EQ(second->exit_code, 2) << flag << ": " << second->stderr_text;
      EXPECT_THAT(second->stderr_text, HasSubstr("batchd: " + message));
      EXPECT_THAT(second->stderr_text, Not(HasSubstr("in use by another batchd")));
      EXPECT_EQ(second->stdout_text, "");
    }
  }
  testing::RemoveTree(*data_dir);
}

TEST(DaemonFlagsTest, UnderscoredNamesWorkAndHelpListsDashedOnes) {
  absl::StatusOr<CommandResult> bad = RunCommand(
      {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--log_level=loud"}, kExitTimeout);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->exit_code, 2);
  EXPECT_THAT(bad->stderr_text, HasSubstr("batchd: invalid --log-level 'loud'"));

  absl::StatusOr<CommandResult> help =
      RunCommand({DaemonProcess::BinaryPath(), "--help"}, kExitTimeout);
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_EQ(help->exit_code, 1);  // as Abseil's --help
  for (const char* flag : {"--log-level (", "--data-dir (", "--plugin-threads (",
                           "--enable-shell (", "--auth-token-file (", "--malloc-trim-interval ("}) {
    EXPECT_THAT(help->stdout_text, HasSubstr(flag));
  }
  EXPECT_THAT(help->stdout_text, Not(HasSubstr("log_level")));
}

TEST(DaemonListenTest, ServesOnAUnixSocket) {
  const std::string socket = absl::StrCat(::testing::TempDir(), "batchd_", getpid(), ".sock");
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
      DaemonProcess::Start({absl::StrCat("--listen=unix:", socket)});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_EQ((*daemon)->address(), absl::StrCat("unix:", socket));

  grpc::ClientContext context;
  SetDeadline(&context);
  HealthCheckResponse response;
  grpc::Status status =
      (*daemon)->NewHealthStub()->Check(&context, HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace batchd
