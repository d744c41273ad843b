// Acting on a running batch through the real daemon: CancelTask on one task, tasks of the
// external executor completed with CompleteTask (and `batchctl complete`), their bad inputs,
// and both surviving kill -9 on the same --data-dir.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_process.h"

#ifndef BATCHCTL_BINARY
#error "BATCHCTL_BINARY must name the batchctl binary (see tests/integration/CMakeLists.txt)"
#endif

namespace batchd {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;

void AddTask(v1::SubmitBatchRequest& request, const std::string& id, const std::string& executor,
             std::vector<std::string> deps = {}) {
  v1::Task* t = request.add_tasks();
  t->set_id(id);
  t->set_executor(executor);
  (*t->mutable_input()->mutable_struct_value()->mutable_fields())["question"].set_string_value(
      "publish " + id + "?");
  for (std::string& d : deps) t->add_dependencies(std::move(d));
}

void AddSleep(v1::SubmitBatchRequest& request, const std::string& id, int ms,
              std::vector<std::string> deps = {}) {
  v1::Task* t = request.add_tasks();
  t->set_id(id);
  t->set_executor("sleep");
  t->mutable_input()->set_number_value(ms);
  for (std::string& d : deps) t->add_dependencies(std::move(d));
}

const v1::TaskResult* ResultOf(const v1::BatchSummary& s, const std::string& id) {
  for (const v1::TaskResult& r : s.results()) {
    if (r.task_id() == id) return &r;
  }
  return nullptr;
}

class LiveBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-live");
    ASSERT_TRUE(dir.ok());
    data_dir_ = *dir;
    Start();
  }
  void TearDown() override {
    if (HasFailure() && daemon_ != nullptr) std::cerr << "batchd stderr:\n" << daemon_->Stderr();
    daemon_.reset();
    testing::RemoveTree(data_dir_);
  }
  void Start() {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> d =
        DaemonProcess::Start({"--data-dir=" + data_dir_});
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
    stub_ = daemon_->NewBatchStub();
  }
  // kill -9 and a new daemon on the same data directory.
  void CrashAndRestart() {
    ASSERT_TRUE(daemon_->SendSignal(SIGKILL).ok());
    ASSERT_TRUE(daemon_->WaitForExit(absl::Seconds(30)).ok());
    daemon_.reset();
    Start();
  }

  std::string Submit(const v1::SubmitBatchRequest& request) {
    grpc::ClientContext context;
    v1::SubmitBatchResponse response;
    const grpc::Status s = stub_->SubmitBatch(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.batch_id();
  }
  v1::BatchProgress Progress(const std::string& id) {
    grpc::ClientContext context;
    v1::GetProgressRequest request;
    request.set_batch_id(id);
    v1::GetProgressResponse response;
    EXPECT_TRUE(stub_->GetProgress(&context, request, &response).ok());
    return response.progress();
  }
  // Polls (bounded) until `task` waits for completion; its entry.
  v1::AwaitingCompletion WaitAwaiting(const std::string& id, const std::string& task) {
    for (int i = 0; i < 1000; ++i) {
      const v1::BatchProgress progress = Progress(id);
      for (const v1::AwaitingCompletion& a : progress.awaiting_completion()) {
        if (a.task_id() == task) return a;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "task " << task << " never waited for completion";
    return {};
  }
  void WaitRunning(const std::string& id, uint32_t n) {
    for (int i = 0; i < 1000 && Progress(id).running_tasks() < n; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_GE(Progress(id).running_tasks(), n);
  }
  grpc::Status Complete(const v1::CompleteTaskRequest& request,
                        v1::CompleteTaskResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::CompleteTaskResponse ignored;
    return stub_->CompleteTask(&context, request, response != nullptr ? response : &ignored);
  }
  grpc::Status CancelTask(const std::string& id, const std::string& task,
                          v1::CancelTaskResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::CancelTaskRequest request;
    request.set_batch_id(id);
    request.set_task_id(task);
    request.set_reason("not needed any more");
    v1::CancelTaskResponse ignored;
    return stub_->CancelTask(&context, request, response != nullptr ? response : &ignored);
  }

  std::string data_dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::BatchService::Stub> stub_;
};

TEST_F(LiveBatchTest, AnApprovalStepRunsItsDependentsOnlyOnceAClientCompletesIt) {
  v1::SubmitBatchRequest request;
  AddTask(request, "review", "external");
  AddTask(request, "publish", "echo", {"review"});
  request.mutable_options()->set_timeout_ms(200);  // the default timeout does not apply to it
  const std::string id = Submit(request);
  const v1::AwaitingCompletion waiting = WaitAwaiting(id, "review");
  EXPECT_EQ(waiting.token().size(), 32u);
  EXPECT_EQ(waiting.input().struct_value().fields().at("question").string_value(),
            "publish review?");
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(Progress(id).awaiting_completion_tasks(), 1u);  // still waiting, no timeout
  EXPECT_EQ(Progress(id).completed_tasks(), 0u);

  v1::CompleteTaskRequest complete;
  complete.set_batch_id(id);
  complete.set_task_id("review");
  complete.set_token(std::string(32, '0'));
  (*complete.mutable_output()->mutable_struct_value()->mutable_fields())["approved"].set_bool_value(
      true);
  grpc::Status wrong = Complete(complete);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(wrong.error_message(), "The token does not match task 'review' of batch '" + id + "'");

  complete.set_token(waiting.token());
  v1::CompleteTaskResponse response;
  grpc::Status ok = Complete(complete, &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(response.result().output().struct_value().fields().at("approved").bool_value());

  const v1::BatchSummary s = testing::WaitForBatchEnd(*stub_, id, absl::Seconds(30));
  EXPECT_EQ(s.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_NE(ResultOf(s, "publish"), nullptr);
  EXPECT_EQ(ResultOf(s, "publish")->state(), v1::TASK_STATE_SUCCEEDED);

  grpc::Status again = Complete(complete);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(again.error_message(),
            "Task 'review' of batch '" + id + "' already finished (SUCCEEDED)");
}

TEST_F(LiveBatchTest, CompleteTaskRefusesBadRequestsNamingTheField) {
  v1::SubmitBatchRequest request;
  AddTask(request, "review", "external");
  AddSleep(request, "nap", 60000);
  const std::string id = Submit(request);
  const v1::AwaitingCompletion waiting = WaitAwaiting(id, "review");

  v1::CompleteTaskRequest r;
  r.set_batch_id(id);
  r.set_task_id("review");
  r.set_token(waiting.token());
  grpc::Status no_outcome = Complete(r);
  EXPECT_EQ(no_outcome.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_outcome.error_message(), HasSubstr("CompleteTask needs an output"));
  r.set_error("");
  EXPECT_THAT(Complete(r).error_message(), HasSubstr("error is empty"));
  r.set_error("no");
  r.clear_token();
  grpc::Status no_token = Complete(r);
  EXPECT_EQ(no_token.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_token.error_message(), HasSubstr("token is empty"));
  r.set_token("t");
  r.set_task_id("nap");
  grpc::Status not_external = Complete(r);
  EXPECT_EQ(not_external.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(not_external.error_message(),
              HasSubstr("runs on executor 'sleep', which completes its own tasks"));
  r.set_task_id("nope");
  EXPECT_EQ(Complete(r).error_code(), grpc::StatusCode::NOT_FOUND);
  r.set_batch_id("b-unknown");
  EXPECT_EQ(Complete(r).error_code(), grpc::StatusCode::NOT_FOUND);
  // The daemon still serves, and nothing changed.
  EXPECT_EQ(Progress(id).awaiting_completion_tasks(), 1u);
  EXPECT_EQ(Progress(id).completed_tasks(), 0u);
}

TEST_F(LiveBatchTest, CancelTaskStopsOneRunningTaskAndSkipsItsDependents) {
  v1::SubmitBatchRequest request;
  AddSleep(request, "long", 60000);
  AddSleep(request, "after-long", 0, {"long"});
  AddSleep(request, "short", 300);
  const std::string id = Submit(request);
  WaitRunning(id, 2);

  const absl::Time before = absl::Now();
  v1::CancelTaskResponse response;
  grpc::Status ok = CancelTask(id, "long", &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.result().state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(response.result().error(), "Cancelled: not needed any more");
  const v1::BatchSummary s = testing::WaitForBatchEnd(*stub_, id, absl::Seconds(30));
  EXPECT_LT(absl::Now() - before, absl::Seconds(20));  // long did not run its minute
  EXPECT_EQ(s.state(), v1::BATCH_STATE_FAILED);
  EXPECT_EQ(ResultOf(s, "after-long")->state(), v1::TASK_STATE_SKIPPED);
  EXPECT_EQ(ResultOf(s, "short")->state(), v1::TASK_STATE_SUCCEEDED);

  grpc::Status finished = CancelTask(id, "short");
  EXPECT_EQ(finished.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(finished.error_message(),
            "Task 'short' of batch '" + id + "' already finished (SUCCEEDED)");
  grpc::Status unknown = CancelTask(id, "nope");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "Batch '" + id + "' has no task 'nope'");
  grpc::Status empty = CancelTask(id, "");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(empty.error_message(), "task_id is empty");
}

TEST_F(LiveBatchTest, AWaitingTaskAndACompletionSurviveKillDashNine) {
  v1::SubmitBatchRequest request;
  AddTask(request, "review", "external");
  AddTask(request, "publish", "echo", {"review"});
  AddSleep(request, "stale", 60000);
  const std::string id = Submit(request);
  const std::string token = WaitAwaiting(id, "review").token();
  v1::CancelTaskResponse cancelled;
  ASSERT_TRUE(CancelTask(id, "stale", &cancelled).ok());

  CrashAndRestart();
  // Same token after the crash, not re-run as a new attempt.
  const v1::AwaitingCompletion after = WaitAwaiting(id, "review");
  EXPECT_EQ(after.token(), token);
  EXPECT_EQ(after.retry_count(), 0u);

  v1::CompleteTaskRequest complete;
  complete.set_batch_id(id);
  complete.set_task_id("review");
  complete.set_token(token);
  complete.mutable_output()->set_string_value("approved");
  ASSERT_TRUE(Complete(complete).ok());
  const v1::BatchSummary done = testing::WaitForBatchEnd(*stub_, id, absl::Seconds(30));
  EXPECT_EQ(done.state(), v1::BATCH_STATE_FAILED);  // stale was cancelled

  CrashAndRestart();
  const v1::BatchSummary s = testing::WaitForBatchEnd(*stub_, id, absl::Seconds(30));
  ASSERT_NE(ResultOf(s, "review"), nullptr);
  EXPECT_EQ(ResultOf(s, "review")->output().string_value(), "approved");
  EXPECT_EQ(ResultOf(s, "publish")->state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(ResultOf(s, "stale")->state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(ResultOf(s, "stale")->error(), "Cancelled: not needed any more");
}

TEST_F(LiveBatchTest, AnOpenBatchTakesTasksUntilClosedAndTheyOutliveKillDashNine) {
  v1::SubmitBatchRequest request;
  AddTask(request, "plan", "echo");
  request.mutable_options()->set_open(true);
  const std::string id = Submit(request);
  for (int i = 0; i < 1000 && Progress(id).completed_tasks() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(Progress(id).completed_tasks(), 1u);
  EXPECT_EQ(Progress(id).state(), v1::BATCH_STATE_RUNNING);  // open: it waits for more

  const auto add = [&](v1::AddTasksRequest r, v1::AddTasksResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    r.set_batch_id(id);
    v1::AddTasksResponse ignored;
    return stub_->AddTasks(&context, r, response != nullptr ? response : &ignored);
  };
  v1::AddTasksRequest more;
  more.set_request_id("more-1");
  v1::Task* gate = more.add_tasks();
  gate->set_id("gate");
  gate->set_executor("external");
  gate->add_dependencies("plan");
  v1::Task* after = more.add_tasks();
  after->set_id("after");
  after->set_executor("echo");
  after->add_dependencies("gate");
  v1::AddTasksResponse added;
  grpc::Status ok = add(more, &added);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(added.total_tasks(), 3u);

  v1::AddTasksRequest duplicate;
  duplicate.add_tasks()->set_id("x");
  duplicate.add_tasks()->set_id("gate");
  grpc::Status refused = add(duplicate);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "Duplicate task id 'gate'");
  v1::AddTasksRequest cycle;
  cycle.add_tasks()->set_id("c1");
  cycle.mutable_tasks(0)->add_dependencies("c2");
  cycle.add_tasks()->set_id("c2");
  cycle.mutable_tasks(1)->add_dependencies("c1");
  EXPECT_EQ(add(cycle).error_message(), "Circular dependency: c1 -> c2 -> c1");
  EXPECT_EQ(Progress(id).total_tasks(), 3u);  // none of them half-added

  const std::string token = WaitAwaiting(id, "gate").token();
  CrashAndRestart();
  // The added tasks are back, and so is the request id.
  EXPECT_EQ(Progress(id).total_tasks(), 3u);
  EXPECT_EQ(WaitAwaiting(id, "gate").token(), token);
  v1::AddTasksResponse again;
  ASSERT_TRUE(add(more, &again).ok());
  EXPECT_TRUE(again.already_added());

  v1::CompleteTaskRequest complete;
  complete.set_batch_id(id);
  complete.set_task_id("gate");
  complete.set_token(token);
  complete.mutable_output()->set_bool_value(true);
  ASSERT_TRUE(Complete(complete).ok());
  for (int i = 0; i < 1000 && Progress(id).completed_tasks() < 3; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(Progress(id).state(), v1::BATCH_STATE_RUNNING);  // still open

  grpc::ClientContext context;
  v1::CloseBatchRequest close;
  close.set_batch_id(id);
  v1::CloseBatchResponse closed;
  ASSERT_TRUE(stub_->CloseBatch(&context, close, &closed).ok());
  EXPECT_EQ(closed.progress().state(), v1::BATCH_STATE_SUCCEEDED);
  v1::AddTasksRequest late;
  late.add_tasks()->set_id("late");
  grpc::Status finished = add(late);
  EXPECT_EQ(finished.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(finished.error_message(), "Batch '" + id + "' already finished (SUCCEEDED)");
}

TEST(LiveOutputTest, AShellTasksStdoutLinesStreamWhileItRunsThenItsResult) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
      DaemonProcess::Start({"--enable-shell", "--durability=none"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::unique_ptr<v1::BatchService::Stub> stub = (*daemon)->NewBatchStub();
  v1::SubmitBatchRequest request;
  v1::Task* t = request.add_tasks();
  t->set_id("lines");
  t->set_executor("shell");
  // The second line comes only once the first has reached the reader (it waits for the file).
  const std::string marker = absl::StrCat(::testing::TempDir(), "/seen-", getpid());
  auto& argv =
      *(*t->mutable_input()->mutable_struct_value()->mutable_fields())["argv"].mutable_list_value();
  for (const std::string& arg :
       {std::string("/bin/sh"), std::string("-c"),
        absl::StrCat("echo one; i=0; while [ ! -e ", marker,
                     " ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo two")}) {
    argv.add_values()->set_string_value(arg);
  }
  grpc::ClientContext submit;
  v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(stub->SubmitBatch(&submit, request, &submitted).ok());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::StreamTaskOutputRequest follow;
  follow.set_batch_id(submitted.batch_id());
  follow.set_task_id("lines");
  auto reader = stub->StreamTaskOutput(&context, follow);
  std::string text;
  v1::StreamTaskOutputResponse message;
  std::optional<v1::TaskResult> result;
  bool streamed_before_the_end = false;  // "one" alone, while the task waited
  while (reader->Read(&message)) {
    text += message.data();
    if (text == "one\n") {
      ASSERT_EQ(std::system(absl::StrCat("touch ", marker).c_str()), 0);  // NOLINT
      streamed_before_the_end = true;
    }
    if (message.has_result()) result = message.result();
  }
  ASSERT_TRUE(reader->Finish().ok());
  std::remove(marker.c_str());
  EXPECT_EQ(text, "one\ntwo\n");
  EXPECT_TRUE(streamed_before_the_end);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(result->output().struct_value().fields().at("stdout").string_value(), "one\ntwo\n");

  grpc::ClientContext unknown_context;
  follow.set_task_id("nope");
  auto unknown = stub->StreamTaskOutput(&unknown_context, follow);
  while (unknown->Read(&message)) {
  }
  EXPECT_EQ(unknown->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LiveBatchTest, BatchctlShowsTheTokenAndCompletesAndCancelsTasks) {
  v1::SubmitBatchRequest request;
  AddTask(request, "review", "external");
  AddTask(request, "ask", "external");
  const std::string id = Submit(request);
  const std::string token = WaitAwaiting(id, "review").token();
  WaitAwaiting(id, "ask");
  const std::string addr = "--addr=" + daemon_->address();

  absl::StatusOr<testing::CommandResult> status =
      testing::RunCommand({BATCHCTL_BINARY, addr, "status", id}, absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(status->stdout_text, HasSubstr("awaiting review"));
  EXPECT_THAT(status->stdout_text, HasSubstr("token " + token));

  absl::StatusOr<testing::CommandResult> usage =
      testing::RunCommand({BATCHCTL_BINARY, addr, "complete", id, "review"}, absl::Seconds(30));
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->exit_code, 2);
  EXPECT_THAT(usage->stderr_text, HasSubstr("complete takes --output JSON or --error TEXT"));

  // Without --token: batchctl looks it up in the batch's progress.
  absl::StatusOr<testing::CommandResult> approved = testing::RunCommand(
      {BATCHCTL_BINARY, addr, "complete", id, "review", "--output", R"({"approved": true})"},
      absl::Seconds(30));
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(approved->exit_code, 0) << approved->stderr_text;
  EXPECT_EQ(approved->stdout_text, "task review: SUCCEEDED\n");

  absl::StatusOr<testing::CommandResult> cancelled = testing::RunCommand(
      {BATCHCTL_BINARY, addr, "cancel-task", id, "ask", "--reason", "no one answered"},
      absl::Seconds(30));
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->exit_code, 0) << cancelled->stderr_text;
  EXPECT_EQ(cancelled->stdout_text, "task ask: CANCELLED (Cancelled: no one answered)\n");

  const v1::BatchSummary s = testing::WaitForBatchEnd(*stub_, id, absl::Seconds(30));
  EXPECT_TRUE(ResultOf(s, "review")->output().struct_value().fields().at("approved").bool_value());
  EXPECT_EQ(ResultOf(s, "ask")->state(), v1::TASK_STATE_CANCELLED);
}

}  // namespace
}  // namespace batchd
