// The scheduler acted on from outside while a batch runs: one task cancelled (CancelTask), and
// tasks of the external executor completed by a client (CompleteTask) with their token.
#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/executors/builtin_executors.h"
#include "core/model/field_violation.h"
#include "core/scheduling/scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/manual_executor.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TaskSpec Task(std::string id, std::string executor, std::vector<std::string> deps = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = std::move(executor);
  t.input = boost::json::object{{"id", t.id}};
  t.dependencies = std::move(deps);
  return t;
}

class SchedulerLiveTest : public ::testing::Test {
 protected:
  SchedulerLiveTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    auto manual = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
    scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options_);
  }

  std::string Submit(BatchSpec spec) {
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    timers_.Poll();
    return r.ok() ? r->batch_id : "";
  }
  void Advance(int ms) { timers_.Advance(milliseconds(ms)); }

  BatchProgress Progress(const std::string& id) {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->GetProgress(id, [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchProgress{};
  }
  BatchSummary Summary(const std::string& id) {
    std::optional<absl::StatusOr<BatchSummary>> out;
    scheduler_->GetSummary(id, [&](absl::StatusOr<BatchSummary> s) { out = std::move(s); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchSummary{};
  }
  static const TaskResult* ResultOf(const BatchSummary& s, const std::string& id) {
    for (const TaskResult* r : s.results) {
      if (*r->task_id == id) return r;
    }
    return nullptr;
  }
  absl::StatusOr<TaskUpdate> CancelTask(const std::string& batch, const std::string& task,
                                        std::string reason = "") {
    std::optional<absl::StatusOr<TaskUpdate>> out;
    scheduler_->CancelTask(batch, task, std::move(reason),
                           [&](absl::StatusOr<TaskUpdate> u) { out = std::move(u); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(absl::InternalError("no answer"));
  }
  absl::StatusOr<TaskUpdate> Complete(const std::string& batch, const std::string& task,
                                      const std::string& token, ExecutionOutcome outcome) {
    std::optional<absl::StatusOr<TaskUpdate>> out;
    scheduler_->CompleteTask(batch, task, token, std::move(outcome),
                             [&](absl::StatusOr<TaskUpdate> u) { out = std::move(u); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(absl::InternalError("no answer"));
  }
  absl::StatusOr<AddTasksResult> Add(const std::string& batch, std::vector<TaskSpec> tasks,
                                     std::string request_id = "", bool close = false,
                                     std::string content = "") {
    std::optional<absl::StatusOr<AddTasksResult>> out;
    Scheduler::AddTasksCall call;
    call.batch_id = batch;
    call.request_id = std::move(request_id);
    call.tasks = std::move(tasks);
    call.content = content.empty() ? absl::StrCat("content of ", call.request_id) : content;
    call.close = close;
    scheduler_->AddTasks(std::move(call),
                         [&](absl::StatusOr<AddTasksResult> r) { out = std::move(r); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(absl::InternalError("no answer"));
  }
  absl::StatusOr<BatchProgress> Close(const std::string& batch) {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->CloseBatch(batch, [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(absl::InternalError("no answer"));
  }
  // The token BatchProgress lists for `task` ("" when it does not wait).
  std::string TokenOf(const std::string& batch, const std::string& task) {
    const BatchProgress progress = Progress(batch);
    for (const BatchProgress::AwaitingCompletion& a : progress.awaiting_completion) {
      if (a.task_id == task) return a.token;
    }
    return "";
  }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  SchedulerOptions options_;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

// ---- CancelTask ----

TEST_F(SchedulerLiveTest, CancelTaskStopsARunningAttemptAndSkipsItsDependents) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual"), Task("b", "manual", {"a"}), Task("c", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a", "c"));

  absl::StatusOr<TaskUpdate> cancelled = CancelTask(id, "a", "not needed");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state, TaskState::kCancelled);
  ASSERT_NE(cancelled->result, nullptr);
  EXPECT_EQ(cancelled->result->error, "Cancelled: not needed");
  ASSERT_EQ(manual_->cancelled().size(), 1u);
  EXPECT_EQ(manual_->cancelled()[0].task, 0u);  // a's attempt was told

  // The batch goes on: c still runs, b is skipped (the default policy), nothing else started.
  EXPECT_EQ(Progress(id).state, BatchState::kRunning);
  ASSERT_TRUE(manual_->Finish("c", ExecutionOutcome::Success(1)));
  timers_.Poll();
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  EXPECT_EQ(ResultOf(s, "a")->state, TaskState::kCancelled);
  EXPECT_EQ(ResultOf(s, "b")->state, TaskState::kSkipped);
  EXPECT_EQ(ResultOf(s, "c")->state, TaskState::kSucceeded);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "c"));
  // The attempt's late report is stale: nothing changes.
  manual_->ReportRaw(manual_->attempts()[0].token, ExecutionOutcome::Success(2));
  timers_.Poll();
  EXPECT_EQ(ResultOf(Summary(id), "a")->state, TaskState::kCancelled);
}

TEST_F(SchedulerLiveTest, ACancelledReadyTaskNeverStartsAndRunDependentsReleasesItsDependents) {
  BatchSpec spec;
  spec.options.max_concurrent = 1;
  spec.options.on_dependency_failure = DependencyFailure::kRunDependents;
  spec.tasks = {Task("first", "manual"), Task("queued", "manual"),
                Task("after", "manual", {"queued"})};
  const std::string id = Submit(std::move(spec));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("first"));  // queued is ready, waits for a slot

  ASSERT_TRUE(CancelTask(id, "queued").ok());
  EXPECT_EQ(ResultOf(Summary(id), "queued")->error, "Cancelled: cancelled by client");
  ASSERT_TRUE(manual_->Finish("first", ExecutionOutcome::Success(1)));
  timers_.Poll();
  // The dispatch boundary: queued is never handed to the executor; its dependent runs.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("first", "after"));
  ASSERT_TRUE(manual_->Finish("after", ExecutionOutcome::Success(2)));
  timers_.Poll();
  EXPECT_EQ(Summary(id).state, BatchState::kFailed);  // one task did not succeed
}

TEST_F(SchedulerLiveTest, CancelTaskInARetryDelayStopsTheRetry) {
  BatchSpec spec;
  RetryPolicySpec retry;
  retry.kind = RetryKind::kFixed;
  retry.initial_delay_ms = 1000;
  retry.max_retries = 3;
  spec.options.retry_policy = retry;
  spec.tasks = {Task("flaky", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(manual_->Finish("flaky", ExecutionOutcome::Failure("boom")));
  timers_.Poll();
  ASSERT_TRUE(CancelTask(id, "flaky", "gave up").ok());
  Advance(5000);
  EXPECT_EQ(manual_->attempts().size(), 1u);  // no retry after the cancel
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  EXPECT_EQ(ResultOf(s, "flaky")->retry_count, 1u);
  EXPECT_EQ(ResultOf(s, "flaky")->error, "Cancelled: gave up");
}

TEST_F(SchedulerLiveTest, CancelTaskUnderCancelBatchCancelsTheBatch) {
  BatchSpec spec;
  spec.options.on_dependency_failure = DependencyFailure::kCancelBatch;
  spec.tasks = {Task("a", "manual"), Task("b", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(CancelTask(id, "a").ok());
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kCancelled);
  EXPECT_EQ(ResultOf(s, "b")->state, TaskState::kCancelled);
  EXPECT_EQ(ResultOf(s, "b")->error, "Cancelled: task 'a' failed");
}

TEST_F(SchedulerLiveTest, CancelTaskRefusesUnknownAndFinishedTasks) {
  BatchSpec spec;
  spec.tasks = {Task("done", "echo"), Task("open", "manual")};
  const std::string id = Submit(std::move(spec));

  absl::StatusOr<TaskUpdate> unknown = CancelTask(id, "nope");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "Batch '" + id + "' has no task 'nope'");
  absl::StatusOr<TaskUpdate> finished = CancelTask(id, "done");
  EXPECT_EQ(finished.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(finished.status().message(),
            "Task 'done' of batch '" + id + "' already finished (SUCCEEDED)");
  EXPECT_EQ(CancelTask("b-none", "x").status().code(), absl::StatusCode::kNotFound);
  // Nothing was half-applied: the other task still runs and finishes.
  EXPECT_EQ(Progress(id).running_tasks, 1u);
  ASSERT_TRUE(manual_->Finish("open", ExecutionOutcome::Success(1)));
  timers_.Poll();
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
}

// ---- The external executor and CompleteTask ----

TEST_F(SchedulerLiveTest, AnExternalTaskWaitsWithoutASlotOrATimeoutUntilCompleted) {
  BatchSpec spec;
  spec.options.max_concurrent = 1;
  spec.options.timeout_ms = 1000;  // the batch's default: not for a task a person completes
  spec.tasks = {Task("review", "external"), Task("work", "manual"),
                Task("publish", "manual", {"review"})};
  const std::string id = Submit(std::move(spec));
  // review holds no slot: work runs beside it although max_concurrent is 1.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("work"));
  BatchProgress p = Progress(id);
  EXPECT_EQ(p.running_tasks, 2u);
  EXPECT_EQ(p.awaiting_completion_tasks, 1u);
  ASSERT_EQ(p.awaiting_completion.size(), 1u);
  EXPECT_EQ(p.awaiting_completion[0].task_id, "review");
  EXPECT_EQ(p.awaiting_completion[0].token.size(), 32u);
  EXPECT_EQ(p.awaiting_completion[0].input, (boost::json::object{{"id", "review"}}));
  EXPECT_EQ(scheduler_->running_total(), 1u);  // only work holds a daemon slot

  ASSERT_TRUE(manual_->Finish("work", ExecutionOutcome::Success(1)));
  timers_.Poll();
  Advance(60 * 60 * 1000);  // an hour later it still waits
  EXPECT_EQ(Progress(id).awaiting_completion_tasks, 1u);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("work"));

  const std::string token = TokenOf(id, "review");
  absl::StatusOr<TaskUpdate> done =
      Complete(id, "review", token, ExecutionOutcome::Success(boost::json::object{{"ok", true}}));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state, TaskState::kSucceeded);
  ASSERT_NE(done->result, nullptr);
  EXPECT_EQ(done->result->output, (boost::json::object{{"ok", true}}));
  // Its dependent runs only now.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("work", "publish"));
  EXPECT_EQ(Progress(id).awaiting_completion_tasks, 0u);
  // A second completion with the same token: already completed.
  absl::StatusOr<TaskUpdate> again = Complete(id, "review", token, ExecutionOutcome::Success(2));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().message(),
            "Task 'review' of batch '" + id + "' already finished (SUCCEEDED)");
}

TEST_F(SchedulerLiveTest, AnExternalTaskStartsWhileEverySlotIsTaken) {
  BatchSpec spec;
  spec.options.max_concurrent = 1;
  spec.tasks = {Task("long", "manual"), Task("queued", "manual"), Task("review", "external")};
  spec.tasks[0].priority = 1;  // long takes the one slot first
  const std::string id = Submit(std::move(spec));
  // The one slot is long's (queued waits for it), and review waits for its client beside it.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("long"));
  const BatchProgress p = Progress(id);
  EXPECT_EQ(p.running_tasks, 2u);
  EXPECT_EQ(p.awaiting_completion_tasks, 1u);
  EXPECT_EQ(p.pending_tasks, 1u);
}

TEST_F(SchedulerLiveTest, CompleteTaskRefusesWrongTokensOtherExecutorsAndTasksNotRunning) {
  BatchSpec spec;
  spec.tasks = {Task("gate", "external"), Task("later", "external", {"gate"}),
                Task("worker", "manual")};
  const std::string id = Submit(std::move(spec));
  const ExecutionOutcome ok = ExecutionOutcome::Success(1);

  absl::StatusOr<TaskUpdate> wrong = Complete(id, "gate", "0123456789abcdef0123456789abcdef", ok);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(wrong.status().message(), "The token does not match task 'gate' of batch '" + id + "'");
  absl::StatusOr<TaskUpdate> other = Complete(id, "worker", "x", ok);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(),
              HasSubstr("Task 'worker' runs on executor 'manual', which completes its own tasks"));
  absl::StatusOr<TaskUpdate> pending = Complete(id, "later", TokenOf(id, "gate"), ok);
  EXPECT_EQ(pending.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pending.status().message(), "Task 'later' of batch '" + id +
                                            "' is not running (PENDING): it has no completion "
                                            "token yet");
  EXPECT_EQ(Complete(id, "nope", "x", ok).status().code(), absl::StatusCode::kNotFound);
  // None of it changed anything.
  EXPECT_EQ(Progress(id).awaiting_completion_tasks, 1u);
  EXPECT_TRUE(Complete(id, "gate", TokenOf(id, "gate"), ok).ok());
  EXPECT_EQ(Progress(id).awaiting_completion[0].task_id, "later");
}

TEST_F(SchedulerLiveTest, AFailedCompletionRetriesWithANewTokenAndTheOldOneIsStale) {
  BatchSpec spec;
  RetryPolicySpec retry;
  retry.kind = RetryKind::kFixed;
  retry.initial_delay_ms = 100;
  retry.max_retries = 1;
  spec.options.retry_policy = retry;
  spec.tasks = {Task("approve", "external")};
  const std::string id = Submit(std::move(spec));
  const std::string first = TokenOf(id, "approve");
  absl::StatusOr<TaskUpdate> failed =
      Complete(id, "approve", first, ExecutionOutcome::Failure("rejected: needs a source"));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->state, TaskState::kRetryWait);
  EXPECT_EQ(failed->retry_count, 1u);
  Advance(100);
  const std::string second = TokenOf(id, "approve");
  ASSERT_EQ(second.size(), 32u);
  EXPECT_NE(second, first);

  absl::StatusOr<TaskUpdate> stale = Complete(id, "approve", first, ExecutionOutcome::Success(1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.status().message(),
            "The token is of an earlier attempt of task 'approve' of "
            "batch '" +
                id + "' (it is now RUNNING after 1 retry)");
  // The last attempt's error is final (no retries left), marked non-retryable or not.
  absl::StatusOr<TaskUpdate> final_error =
      Complete(id, "approve", second, ExecutionOutcome::Failure("still no", true));
  ASSERT_TRUE(final_error.ok());
  EXPECT_EQ(final_error->state, TaskState::kFailed);
  EXPECT_EQ(ResultOf(Summary(id), "approve")->error, "still no");
}

TEST_F(SchedulerLiveTest, AnExternalTaskWithItsOwnTimeoutTimesOut) {
  BatchSpec spec;
  spec.tasks = {Task("approve", "external")};
  spec.tasks[0].timeout_ms = 5000;
  const std::string id = Submit(std::move(spec));
  Advance(4999);
  EXPECT_EQ(Progress(id).awaiting_completion_tasks, 1u);
  Advance(1);
  const BatchSummary s = Summary(id);
  EXPECT_EQ(ResultOf(s, "approve")->state, TaskState::kTimedOut);
  EXPECT_EQ(ResultOf(s, "approve")->error, "Timeout after 5000 ms");
}

TEST_F(SchedulerLiveTest, CancellingAnExternalTaskSpendsItsToken) {
  BatchSpec spec;
  spec.tasks = {Task("approve", "external")};
  const std::string id = Submit(std::move(spec));
  const std::string token = TokenOf(id, "approve");
  ASSERT_TRUE(CancelTask(id, "approve", "no longer needed").ok());
  absl::StatusOr<TaskUpdate> late = Complete(id, "approve", token, ExecutionOutcome::Success(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(late.status().message(),
            "Task 'approve' of batch '" + id + "' already finished (CANCELLED)");
  EXPECT_EQ(Summary(id).state, BatchState::kFailed);
}

// ---- Open batches and AddTasks ----

TEST_F(SchedulerLiveTest, AnOpenBatchWaitsForMoreTasksUntilClosed) {
  BatchSpec spec;
  spec.options.open = true;
  spec.tasks = {Task("plan", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(manual_->Finish("plan", ExecutionOutcome::Success(boost::json::object{{"n", 2}})));
  timers_.Poll();
  // Every task is final, and the batch still runs: more may come.
  EXPECT_EQ(Progress(id).state, BatchState::kRunning);
  EXPECT_EQ(Progress(id).completed_tasks, 1u);

  // Added tasks may depend on a finished task (it succeeded: they are ready at once) and on
  // each other.
  TaskSpec call = Task("call-1", "manual", {"plan"});
  call.input = boost::json::object{{"n", boost::json::object{{"$ref", "plan"}, {"path", "/n"}}}};
  absl::StatusOr<AddTasksResult> added =
      Add(id, {call, Task("merge", "manual", {"call-1"})}, "add-1");
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->total_tasks, 3u);
  EXPECT_FALSE(added->already_added);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("plan", "call-1"));
  EXPECT_EQ(manual_->attempts()[1].input, (boost::json::object{{"n", 2}}));  // $ref resolved
  EXPECT_EQ(Progress(id).total_tasks, 3u);
  ASSERT_TRUE(manual_->Finish("call-1", ExecutionOutcome::Success(1)));
  timers_.Poll();
  ASSERT_TRUE(manual_->Finish("merge", ExecutionOutcome::Success(2)));
  timers_.Poll();
  EXPECT_EQ(Progress(id).state, BatchState::kRunning);

  absl::StatusOr<BatchProgress> closed = Close(id);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->state, BatchState::kSucceeded);
  EXPECT_EQ(Summary(id).results.size(), 3u);
  // Closed and finished: nothing more.
  absl::StatusOr<AddTasksResult> late = Add(id, {Task("late", "echo")});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(late.status().message(), "Batch '" + id + "' already finished (SUCCEEDED)");
  EXPECT_EQ(Close(id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerLiveTest, AddTasksIsIdempotentByRequestIdAndRefusesOtherContent) {
  BatchSpec spec;
  spec.options.open = true;
  const std::string id = Submit(std::move(spec));  // open and empty: it waits
  EXPECT_EQ(Progress(id).state, BatchState::kPending);
  ASSERT_TRUE(Add(id, {Task("a", "manual")}, "r1", false, "A").ok());
  absl::StatusOr<AddTasksResult> again = Add(id, {Task("a", "manual")}, "r1", false, "A");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_added);
  EXPECT_EQ(again->total_tasks, 1u);
  absl::StatusOr<AddTasksResult> other = Add(id, {Task("b", "manual")}, "r1", false, "B");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(other.status().message(),
            "request_id 'r1' already added other tasks to batch '" + id + "'");
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
}

TEST_F(SchedulerLiveTest, BadAdditionsAreRefusedWholeWithSubmitsMessages) {
  BatchSpec spec;
  spec.options.open = true;
  spec.tasks = {Task("a", "manual")};
  const std::string id = Submit(std::move(spec));

  absl::StatusOr<AddTasksResult> duplicate = Add(id, {Task("b", "manual"), Task("a", "manual")});
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(duplicate.status().message(), "Duplicate task id 'a'");
  EXPECT_THAT(FieldViolationsOf(duplicate.status()),
              ElementsAre(FieldViolation{"tasks[1].id", "Duplicate task id 'a'"}));
  absl::StatusOr<AddTasksResult> unknown = Add(id, {Task("b", "manual", {"ghost"})});
  EXPECT_EQ(unknown.status().message(), "Unknown dependency 'ghost' of task 'b'");
  EXPECT_EQ(FieldViolationsOf(unknown.status())[0].field, "tasks[0].dependencies[0]");
  absl::StatusOr<AddTasksResult> cycle =
      Add(id, {Task("x", "manual", {"a", "y"}), Task("y", "manual", {"x"})});
  EXPECT_EQ(cycle.status().message(), "Circular dependency: x -> y -> x");
  absl::StatusOr<AddTasksResult> executor = Add(id, {Task("e", "nope")});
  EXPECT_THAT(executor.status().message(), HasSubstr("Unknown executor 'nope' of task 'e'"));
  // Nothing of them was added: the next good one is the batch's second task.
  absl::StatusOr<AddTasksResult> good = Add(id, {Task("b", "manual")});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->total_tasks, 2u);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
}

TEST_F(SchedulerLiveTest, TasksAddedAfterAFailedDependencyFollowThePolicy) {
  BatchSpec spec;
  spec.options.open = true;
  spec.tasks = {Task("bad", "manual"), Task("good", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(manual_->Finish("bad", ExecutionOutcome::Failure("boom", true)));
  ASSERT_TRUE(manual_->Finish("good", ExecutionOutcome::Success(1)));
  timers_.Poll();
  ASSERT_TRUE(Add(id,
                  {Task("after-bad", "manual", {"bad"}),
                   Task("after-both", "manual", {"good", "after-bad"}),
                   Task("after-good", "manual", {"good"})},
                  "", /*close=*/true)
                  .ok());
  // Skipped at once (the default policy), the rest runs; closed, it finishes after.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("bad", "good", "after-good"));
  ASSERT_TRUE(manual_->Finish("after-good", ExecutionOutcome::Success(2)));
  timers_.Poll();
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  EXPECT_EQ(ResultOf(s, "after-bad")->error, "Skipped: dependency 'bad' failed");
  EXPECT_EQ(ResultOf(s, "after-both")->state, TaskState::kSkipped);
  EXPECT_EQ(ResultOf(s, "after-good")->state, TaskState::kSucceeded);
}

TEST_F(SchedulerLiveTest, ATaskOfAClosedBatchAddsToItWhileItRuns) {
  // Not open: the batch takes tasks while it is unfinished, so a running task can spawn.
  BatchSpec spec;
  spec.options.aggregation = Aggregation::kOrdered;
  spec.tasks = {Task("z-planner", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(Add(id, {Task("b-tool", "manual"), Task("a-tool", "manual")}).ok());
  ASSERT_TRUE(manual_->Finish("z-planner", ExecutionOutcome::Success(0)));
  ASSERT_TRUE(manual_->Finish("b-tool", ExecutionOutcome::Success(1)));
  ASSERT_TRUE(manual_->Finish("a-tool", ExecutionOutcome::Success(2)));
  timers_.Poll();
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  // ORDERED: the submitted tasks by id, then each added set by id.
  std::vector<std::string> ids;
  for (const TaskResult* r : s.results) ids.push_back(*r->task_id);
  EXPECT_THAT(ids, ElementsAre("z-planner", "a-tool", "b-tool"));
}

TEST_F(SchedulerLiveTest, AnIdleOpenBatchClosesItselfAfterItsBound) {
  BatchSpec spec;
  spec.options.open = true;
  spec.options.close_after_idle_ms = 1000;
  spec.tasks = {Task("a", "manual")};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(manual_->Finish("a", ExecutionOutcome::Success(1)));
  timers_.Poll();
  Advance(600);
  ASSERT_TRUE(Add(id, {Task("b", "manual")}).ok());  // no longer idle
  Advance(600);
  ASSERT_TRUE(manual_->Finish("b", ExecutionOutcome::Success(2)));
  timers_.Poll();
  Advance(999);
  EXPECT_EQ(Progress(id).state, BatchState::kRunning);  // idle for 999 ms only
  Advance(1);
  EXPECT_EQ(Progress(id).state, BatchState::kSucceeded);
}

// ---- Partial output ----

TEST_F(SchedulerLiveTest, ReadersFollowATasksOutputThenGetItsResult) {
  BatchSpec spec;
  spec.tasks = {Task("llm", "manual")};
  const std::string id = Submit(std::move(spec));
  std::vector<std::string> got;
  std::optional<TaskResult> result;
  uint64_t offset = 0;
  // A reader that asks again after each answer, as StreamTaskOutput does.
  std::function<void()> read = [&] {
    scheduler_->ReadTaskOutput(id, "llm", offset, [&](absl::StatusOr<TaskOutputRead> r) {
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->result != nullptr) {
        result = *r->result;
        return;
      }
      got.push_back(r->data);
      offset = r->offset + r->data.size();
      read();
    });
  };
  read();
  timers_.Poll();
  EXPECT_TRUE(got.empty());  // it waits for output
  ASSERT_TRUE(manual_->Output("llm", "Hel"));
  timers_.Poll();
  ASSERT_TRUE(manual_->Output("llm", "lo"));
  timers_.Poll();
  EXPECT_EQ(got, (std::vector<std::string>{"Hel", "lo"}));
  ASSERT_TRUE(manual_->Finish("llm", ExecutionOutcome::Success("Hello")));
  timers_.Poll();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->output, boost::json::value("Hello"));
  // A late reader gets everything sent, then the result.
  std::optional<absl::StatusOr<TaskOutputRead>> late;
  scheduler_->ReadTaskOutput(id, "llm", 0, [&](absl::StatusOr<TaskOutputRead> r) { late = r; });
  timers_.Poll();
  ASSERT_TRUE(late.has_value() && late->ok());
  EXPECT_EQ((*late)->data, "Hello");
  // Output of an attempt that ended is dropped.
  manual_->ReportRaw(manual_->attempts()[0].token, ExecutionOutcome::Success(1));
  std::optional<absl::StatusOr<TaskOutputRead>> unknown;
  scheduler_->ReadTaskOutput(id, "nope", 0, [&](absl::StatusOr<TaskOutputRead> r) { unknown = r; });
  timers_.Poll();
  EXPECT_EQ(unknown->status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace batchd::core
