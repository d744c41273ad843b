#include "core/scheduling/scheduler.h"

#include <boost/json.hpp>
#include <memory>
#include <optional>

#include "core/executors/builtin_executors.h"
#include "core/model/field_violation.h"
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

TaskSpec MakeTask(std::string id, std::string executor, boost::json::value input,
                  std::vector<std::string> deps = {}, double priority = 0) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = std::move(executor);
  t.input = std::move(input);
  t.dependencies = std::move(deps);
  t.priority = priority;
  return t;
}

TaskSpec Sleep(std::string id, int ms, std::vector<std::string> deps = {}, double priority = 0) {
  return MakeTask(std::move(id), "sleep", boost::json::object{{"ms", ms}}, std::move(deps),
                  priority);
}

RetryPolicySpec FixedRetry(uint32_t delay_ms, uint32_t max_retries = 3) {
  RetryPolicySpec p;
  p.kind = RetryKind::kFixed;
  p.initial_delay_ms = delay_ms;
  p.max_retries = max_retries;
  return p;
}

RetryPolicySpec NoRetry() {
  RetryPolicySpec p;
  p.kind = RetryKind::kNone;
  return p;
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    auto manual = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
  }

  void Start(SchedulerOptions options = {}) {
    scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options);
  }

  std::string Submit(BatchSpec spec) {
    if (!scheduler_) Start();
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    timers_.Poll();
    return r.ok() ? r->batch_id : "";
  }

  void Advance(int ms) { timers_.Advance(milliseconds(ms)); }
  double NowMs() const { return ToMillis(clock_.Elapsed()) - ToMillis(std::chrono::hours(1)); }

  absl::StatusOr<BatchSummary> Summary(const std::string& id) {
    std::optional<absl::StatusOr<BatchSummary>> out;
    scheduler_->GetSummary(id, [&](absl::StatusOr<BatchSummary> s) { out = std::move(s); });
    timers_.Poll();
    return *out;
  }
  absl::StatusOr<BatchProgress> Progress(const std::string& id) {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->GetProgress(id, [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    return *out;
  }
  absl::StatusOr<BatchProgress> Cancel(const std::string& id, std::string reason = "") {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->Cancel(id, std::move(reason),
                       [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    return *out;
  }
  // Reads every result the stream has right now (following chunks until it would wait).
  std::vector<std::string> ReadAvailable(const std::string& id, uint64_t& cursor,
                                         std::optional<BatchSummary>* summary = nullptr,
                                         size_t* chunks = nullptr) {
    std::vector<std::string> ids;
    while (true) {
      // Shared: a reader that parks outlives this call and may still be woken later.
      auto slot = std::make_shared<std::optional<absl::StatusOr<ResultChunk>>>();
      scheduler_->ReadResults(id, cursor,
                              [slot](absl::StatusOr<ResultChunk> c) { *slot = std::move(c); });
      timers_.Poll();
      std::optional<absl::StatusOr<ResultChunk>>& out = *slot;
      if (!out.has_value()) return ids;  // parked: nothing new yet
      EXPECT_TRUE(out->ok());
      if (chunks != nullptr && !(*out)->results.empty()) ++*chunks;
      for (const TaskResult* r : (*out)->results) ids.push_back(*r->task_id);
      cursor = (*out)->last_sequence;
      if ((*out)->summary.has_value()) {
        if (summary != nullptr) *summary = (*out)->summary;
        return ids;
      }
    }
  }

  static std::vector<std::string> ResultIds(const BatchSummary& s) {
    std::vector<std::string> ids;
    for (const TaskResult* r : s.results) ids.push_back(*r->task_id);
    return ids;
  }
  static const TaskResult& ResultOf(const BatchSummary& s, const std::string& id) {
    for (const TaskResult* r : s.results) {
      if (*r->task_id == id) return *r;
    }
    ADD_FAILURE() << "no result for " << id;
    static TaskResult none;
    return none;
  }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, EchoBatchSucceedsWithOutputsEqualToInputs) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("a", "echo", boost::json::object{{"x", 1}}));
  spec.tasks.push_back(MakeTask("b", "echo", "hello", {"a"}));
  std::string id = Submit(std::move(spec));
  absl::StatusOr<BatchSummary> s = Summary(id);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, BatchState::kSucceeded);
  EXPECT_EQ(s->successful_count, 2u);
  EXPECT_EQ(s->failed_count, 0u);
  EXPECT_EQ(s->success_rate, 100.0);
  EXPECT_EQ(ResultOf(*s, "a").output, (boost::json::object{{"x", 1}}));
  EXPECT_EQ(ResultOf(*s, "b").output, "hello");
  EXPECT_THAT(ResultIds(*s), ElementsAre("a", "b"));
}

TEST_F(SchedulerTest, EmptyBatchSucceedsAtOnce) {
  std::string id = Submit(BatchSpec{});
  absl::StatusOr<BatchSummary> s = Summary(id);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, BatchState::kSucceeded);
  EXPECT_EQ(s->total_tasks, 0u);
  EXPECT_EQ(s->success_rate, 0.0);
}

TEST_F(SchedulerTest, MaxConcurrentBoundsRunningSleepsAndMakespan) {
  BatchSpec spec;
  for (int i = 0; i < 10; ++i) spec.tasks.push_back(Sleep("t" + std::to_string(i), 200));
  spec.options.max_concurrent = 5;
  std::string id = Submit(std::move(spec));
  EXPECT_EQ(Progress(id)->running_tasks, 5u);
  EXPECT_EQ(Progress(id)->pending_tasks, 5u);
  Advance(199);
  EXPECT_EQ(Progress(id)->completed_tasks, 0u);
  Advance(1);
  EXPECT_EQ(Progress(id)->completed_tasks, 5u);
  EXPECT_EQ(Progress(id)->running_tasks, 5u);
  Advance(200);
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(s->state, BatchState::kSucceeded);
  EXPECT_DOUBLE_EQ(s->total_duration_ms, 400.0);
  EXPECT_DOUBLE_EQ(s->avg_duration_ms, 200.0);
  EXPECT_DOUBLE_EQ(s->throughput_per_second, 10 / 400.0 * 1000);
}

TEST_F(SchedulerTest, ExplicitZeroMaxConcurrentIsInvalid) {
  Start();
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("a", "echo", nullptr));
  spec.options.max_concurrent = 0;
  absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "max_concurrent must be greater than 0");
  EXPECT_THAT(FieldViolationsOf(r.status()),
              ElementsAre(FieldViolation{"options.max_concurrent",
                                         "max_concurrent must be greater than 0"}));
}

TEST_F(SchedulerTest, UnknownExecutorIsRejectedNamingTaskAndKnownExecutors) {
  Start();
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("a", "nope", nullptr));
  absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Unknown executor 'nope' of task 'a' (known: echo, external, fail, manual, sleep)");
  EXPECT_EQ(FieldViolationsOf(r.status()).at(0).field, "tasks[0].executor");
}

TEST_F(SchedulerTest, ReadyTasksStartByPriorityThenInputOrder) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("low", "manual", nullptr, {}, 0.1));
  spec.tasks.push_back(MakeTask("high", "manual", nullptr, {}, 5));
  spec.tasks.push_back(MakeTask("mid1", "manual", nullptr, {}, 1));
  spec.tasks.push_back(MakeTask("mid2", "manual", nullptr, {}, 1));
  spec.options.max_concurrent = 1;
  Submit(std::move(spec));
  for (const char* id : {"high", "mid1", "mid2", "low"}) {
    EXPECT_TRUE(manual_->Finish(id, ExecutionOutcome::Success(nullptr))) << id;
    timers_.Poll();
  }
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("high", "mid1", "mid2", "low"));
  EXPECT_EQ(manual_->peak_running(), 1u);
}

TEST_F(SchedulerTest, DependentStartsWhenItsOwnDependenciesFinishNotTheLayer) {
  // a -> b (100 ms) -> d ; a -> c (300 ms). d must start at 200 ms, not after c at 400 ms.
  BatchSpec spec;
  spec.tasks.push_back(Sleep("a", 100));
  spec.tasks.push_back(Sleep("b", 100, {"a"}));
  spec.tasks.push_back(Sleep("c", 300, {"a"}));
  spec.tasks.push_back(Sleep("d", 100, {"b"}));
  std::string id = Submit(std::move(spec));
  Advance(1000);
  absl::StatusOr<BatchSummary> s = Summary(id);
  ASSERT_EQ(s->state, BatchState::kSucceeded);
  auto start_ms = [&](const std::string& t) {
    return ToMillis(ResultOf(*s, t).started_at - ResultOf(*s, "a").started_at);
  };
  EXPECT_DOUBLE_EQ(start_ms("b"), 100);
  EXPECT_DOUBLE_EQ(start_ms("c"), 100);
  EXPECT_DOUBLE_EQ(start_ms("d"), 200);
  EXPECT_DOUBLE_EQ(s->total_duration_ms, 400);  // the critical path a-c
}

TEST_F(SchedulerTest, FixedRetryUntilSuccessCountsRetries) {
  BatchSpec spec;
  spec.tasks.push_back(
      MakeTask("f", "fail", boost::json::object{{"error", "boom"}, {"succeed_on_attempt", 2}}));
  spec.options.retry_policy = FixedRetry(100);
  std::string id = Submit(std::move(spec));
  EXPECT_EQ(Summary(id)->state, BatchState::kRunning);
  Advance(99);
  EXPECT_EQ(Progress(id)->completed_tasks, 0u);
  Advance(1);  // second attempt at 100 ms fails again
  EXPECT_EQ(Progress(id)->completed_tasks, 0u);
  Advance(100);  // third attempt at 200 ms succeeds
  absl::StatusOr<BatchSummary> s = Summary(id);
  ASSERT_EQ(s->state, BatchState::kSucceeded);
  EXPECT_EQ(ResultOf(*s, "f").retry_count, 2u);
  EXPECT_EQ(ResultOf(*s, "f").output, (boost::json::object{{"attempt", 2}}));
  EXPECT_EQ(s->retried_count, 1u);
}

TEST_F(SchedulerTest, DefaultExponentialPolicyWaits1s2s4sThenFails) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("f", "manual", nullptr));
  std::string id = Submit(std::move(spec));
  std::vector<double> attempt_times;
  for (int attempt = 0; attempt < 4; ++attempt) {
    ASSERT_EQ(manual_->attempts().size(), static_cast<size_t>(attempt + 1));
    EXPECT_EQ(manual_->attempts().back().attempt, static_cast<uint32_t>(attempt));
    attempt_times.push_back(NowMs());
    manual_->Finish("f", ExecutionOutcome::Failure("nope"));
    timers_.Poll();
    if (attempt < 3) Advance(1000 << attempt);
  }
  EXPECT_THAT(attempt_times, ElementsAre(0, 1000, 3000, 7000));
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(s->state, BatchState::kFailed);
  EXPECT_EQ(ResultOf(*s, "f").error, "nope");
  EXPECT_EQ(ResultOf(*s, "f").retry_count, 3u);
  EXPECT_EQ(ResultOf(*s, "f").state, TaskState::kFailed);
}

TEST_F(SchedulerTest, TaskPolicyOverridesBatchPolicyAndNonRetryableStopsRetries) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("once", "fail", nullptr));
  spec.tasks.back().retry_policy = NoRetry();
  spec.tasks.push_back(MakeTask("final", "manual", nullptr));
  spec.options.retry_policy = FixedRetry(10);
  std::string id = Submit(std::move(spec));
  manual_->Finish("final", ExecutionOutcome::Failure("bad input", /*non_retryable=*/true));
  timers_.Poll();
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(s->state, BatchState::kFailed);
  EXPECT_EQ(ResultOf(*s, "once").retry_count, 0u);
  EXPECT_EQ(ResultOf(*s, "once").error, "fail: failing as requested");
  EXPECT_EQ(ResultOf(*s, "final").retry_count, 0u);
}

TEST_F(SchedulerTest, RetryAfterFromExecutorOverridesPolicyDelay) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("t", "manual", nullptr));
  spec.options.retry_policy = FixedRetry(10000);
  Submit(std::move(spec));
  ExecutionOutcome o = ExecutionOutcome::Failure("busy");
  o.retry_after_ms = 50;
  manual_->Finish("t", std::move(o));
  Advance(49);
  EXPECT_EQ(manual_->attempts().size(), 1u);
  Advance(1);
  EXPECT_EQ(manual_->attempts().size(), 2u);
}

TEST_F(SchedulerTest, TimeoutCancelsAttemptWithExactMessageAndIsNotRetried) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("slow", "manual", nullptr));
  spec.tasks.back().timeout_ms = 200;
  spec.options.retry_policy = FixedRetry(10);
  std::string id = Submit(std::move(spec));
  Advance(199);
  EXPECT_TRUE(manual_->cancelled().empty());
  Advance(1);
  ASSERT_EQ(manual_->cancelled().size(), 1u);
  EXPECT_EQ(manual_->cancelled()[0], manual_->attempts()[0].token);
  absl::StatusOr<BatchSummary> s = Summary(id);
  const TaskResult& r = ResultOf(*s, "slow");
  EXPECT_EQ(r.state, TaskState::kTimedOut);
  EXPECT_EQ(r.error, "Timeout after 200 ms");
  EXPECT_DOUBLE_EQ(r.duration_ms, 200);
  EXPECT_EQ(r.retry_count, 0u);
  EXPECT_EQ(manual_->attempts().size(), 1u);
  // A late report for the timed-out attempt is ignored: still one result.
  manual_->ReportRaw(manual_->attempts()[0].token, ExecutionOutcome::Success(1));
  timers_.Poll();
  EXPECT_EQ(Summary(id)->results.size(), 1u);
  EXPECT_EQ(ResultOf(*Summary(id), "slow").state, TaskState::kTimedOut);
}

TEST_F(SchedulerTest, BatchTimeoutAppliesAndRetryOnTimeoutRetries) {
  BatchSpec spec;
  spec.tasks.push_back(Sleep("s", 1000));
  spec.options.timeout_ms = 100;
  spec.options.retry_policy = FixedRetry(50, 1);
  spec.options.retry_policy.retry_on_timeout = true;
  std::string id = Submit(std::move(spec));
  Advance(100);  // first attempt times out, retry at 150
  EXPECT_EQ(Progress(id)->completed_tasks, 0u);
  Advance(150);  // second attempt times out at 250: no retries left
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(ResultOf(*s, "s").state, TaskState::kTimedOut);
  EXPECT_EQ(ResultOf(*s, "s").error, "Timeout after 100 ms");
  EXPECT_EQ(ResultOf(*s, "s").retry_count, 1u);
  EXPECT_EQ(timers_.pending(), 1u);  // only the retention timer
}

TEST_F(SchedulerTest, FailedTaskSkipsEveryTransitiveDependent) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("a", "fail", nullptr));
  spec.tasks.push_back(MakeTask("b", "echo", nullptr, {"a"}));
  spec.tasks.push_back(MakeTask("c", "echo", nullptr, {"b"}));
  spec.tasks.push_back(MakeTask("other", "echo", nullptr));
  spec.options.retry_policy = NoRetry();
  std::string id = Submit(std::move(spec));
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(s->state, BatchState::kFailed);
  EXPECT_EQ(ResultOf(*s, "b").state, TaskState::kSkipped);
  EXPECT_EQ(ResultOf(*s, "b").error, "Skipped: dependency 'a' failed");
  EXPECT_EQ(ResultOf(*s, "c").state, TaskState::kSkipped);
  EXPECT_EQ(ResultOf(*s, "c").error, "Skipped: dependency 'a' failed");
  EXPECT_EQ(ResultOf(*s, "other").state, TaskState::kSucceeded);
  EXPECT_EQ(s->successful_count, 1u);
  EXPECT_EQ(s->failed_count, 3u);
}

TEST_F(SchedulerTest, RunDependentsRunsThemAnyway) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("a", "fail", nullptr));
  spec.tasks.push_back(MakeTask("b", "echo", 7, {"a"}));
  spec.options.retry_policy = NoRetry();
  spec.options.on_dependency_failure = DependencyFailure::kRunDependents;
  std::string id = Submit(std::move(spec));
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(ResultOf(*s, "b").state, TaskState::kSucceeded);
  EXPECT_EQ(s->state, BatchState::kFailed);
}

TEST_F(SchedulerTest, CancelBatchPolicyCancelsEverythingOnFirstFailure) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("long", "manual", nullptr));
  spec.tasks.push_back(MakeTask("bad", "manual", nullptr));
  spec.tasks.push_back(MakeTask("later", "echo", nullptr, {"long"}));
  spec.options.retry_policy = NoRetry();
  spec.options.on_dependency_failure = DependencyFailure::kCancelBatch;
  std::string id = Submit(std::move(spec));
  manual_->Finish("bad", ExecutionOutcome::Failure("x"));
  timers_.Poll();
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(s->state, BatchState::kCancelled);
  EXPECT_EQ(ResultOf(*s, "long").state, TaskState::kCancelled);
  EXPECT_EQ(ResultOf(*s, "long").error, "Cancelled: task 'bad' failed");
  EXPECT_EQ(ResultOf(*s, "later").state, TaskState::kCancelled);
  EXPECT_EQ(manual_->cancelled().size(), 1u);
}

TEST_F(SchedulerTest, CancelStopsRunningAndPendingTasks) {
  BatchSpec spec;
  for (int i = 0; i < 4; ++i) spec.tasks.push_back(Sleep("s" + std::to_string(i), 1000));
  spec.options.max_concurrent = 2;
  std::string id = Submit(std::move(spec));
  Advance(100);
  absl::StatusOr<BatchProgress> p = Cancel(id, "user abort");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->state, BatchState::kCancelled);
  absl::StatusOr<BatchSummary> s = Summary(id);
  EXPECT_EQ(s->state, BatchState::kCancelled);
  EXPECT_EQ(s->cancel_reason, "user abort");
  for (const TaskResult* r : s->results) {
    EXPECT_EQ(r->state, TaskState::kCancelled);
    EXPECT_EQ(r->error, "Cancelled: user abort");
  }
  EXPECT_EQ(timers_.pending(), 1u);  // sleeps' and timeouts' timers are gone; retention remains
  absl::StatusOr<BatchProgress> again = Cancel(id);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("already finished (CANCELLED)"));
  EXPECT_EQ(Cancel("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Cancel("missing").status().message(), "Batch 'missing' not found");
  EXPECT_EQ(Summary("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Progress("missing").status().code(), absl::StatusCode::kNotFound);
}

BatchSpec ThreeManualTasks(Aggregation aggregation) {
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("c", "manual", nullptr, {}, 1));
  spec.tasks.push_back(MakeTask("a", "manual", nullptr, {}, 2));
  spec.tasks.push_back(MakeTask("b", "manual", nullptr, {}, 3));
  spec.options.aggregation = aggregation;
  return spec;
}

TEST_F(SchedulerTest, OrderedHoldsBackUntilEverySmallerIdIsFinal) {
  std::string id = Submit(ThreeManualTasks(Aggregation::kOrdered));
  uint64_t cursor = 0;
  manual_->Finish("c", ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  EXPECT_TRUE(ReadAvailable(id, cursor).empty());
  manual_->Finish("a", ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  EXPECT_THAT(ReadAvailable(id, cursor), ElementsAre("a"));
  manual_->Finish("b", ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  std::optional<BatchSummary> summary;
  EXPECT_THAT(ReadAvailable(id, cursor, &summary), ElementsAre("b", "c"));
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->state, BatchState::kSucceeded);
  EXPECT_THAT(ResultIds(*Summary(id)), ElementsAre("a", "b", "c"));
}

TEST_F(SchedulerTest, PriorityOrderIsPriorityDescendingThenId) {
  std::string id = Submit(ThreeManualTasks(Aggregation::kPriority));
  for (const char* t : {"a", "c", "b"}) manual_->Finish(t, ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  EXPECT_THAT(ResultIds(*Summary(id)), ElementsAre("b", "a", "c"));
}

TEST_F(SchedulerTest, UnorderedIsCompletionOrderAndCoalescesWhileStreamingSendsOneEach) {
  std::string id = Submit(ThreeManualTasks(Aggregation::kUnordered));
  for (const char* t : {"a", "c", "b"}) manual_->Finish(t, ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  uint64_t cursor = 0;
  size_t chunks = 0;
  EXPECT_THAT(ReadAvailable(id, cursor, nullptr, &chunks), ElementsAre("a", "c", "b"));
  EXPECT_EQ(chunks, 1u);

  std::string sid = Submit(ThreeManualTasks(Aggregation::kStreaming));
  for (const char* t : {"b", "a", "c"}) manual_->Finish(t, ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  cursor = 0;
  chunks = 0;
  EXPECT_THAT(ReadAvailable(sid, cursor, nullptr, &chunks), ElementsAre("b", "a", "c"));
  EXPECT_EQ(chunks, 3u);
}

TEST_F(SchedulerTest, ReaderAttachingAfterCompletionGetsEverythingAndResumesAfterSequence) {
  BatchSpec spec;
  for (int i = 0; i < 5; ++i) spec.tasks.push_back(MakeTask("t" + std::to_string(i), "echo", i));
  std::string id = Submit(std::move(spec));
  uint64_t cursor = 0;
  std::optional<BatchSummary> summary;
  EXPECT_THAT(ReadAvailable(id, cursor, &summary), ElementsAre("t0", "t1", "t2", "t3", "t4"));
  ASSERT_TRUE(summary.has_value());
  EXPECT_TRUE(summary->results.empty());
  EXPECT_EQ(summary->successful_count, 5u);
  uint64_t from_three = 3;
  EXPECT_THAT(ReadAvailable(id, from_three), ElementsAre("t3", "t4"));
}

TEST_F(SchedulerTest, ParkedReaderIsWokenByNewResults) {
  std::string id = Submit(ThreeManualTasks(Aggregation::kUnordered));
  std::vector<std::string> got;
  scheduler_->ReadResults(id, 0, [&](absl::StatusOr<ResultChunk> c) {
    for (const TaskResult* r : c->results) got.push_back(*r->task_id);
  });
  timers_.Poll();
  EXPECT_TRUE(got.empty());
  manual_->Finish("b", ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  EXPECT_THAT(got, ElementsAre("b"));
}

TEST_F(SchedulerTest, ProgressCountsAndEstimate) {
  BatchSpec spec;
  for (int i = 0; i < 4; ++i) spec.tasks.push_back(Sleep("s" + std::to_string(i), 100));
  spec.tasks.push_back(MakeTask("f", "fail", nullptr));
  spec.options.max_concurrent = 2;
  spec.options.retry_policy = NoRetry();
  std::string id = Submit(std::move(spec));
  // f has the lowest priority tie-break (input order), so it starts last.
  absl::StatusOr<BatchProgress> p = Progress(id);
  EXPECT_EQ(p->total_tasks, 5u);
  EXPECT_EQ(p->running_tasks, 2u);
  EXPECT_EQ(p->pending_tasks, 3u);
  EXPECT_EQ(p->estimated_remaining_ms, 0);  // nothing observed yet
  Advance(100);
  p = Progress(id);
  EXPECT_EQ(p->completed_tasks, 2u);
  EXPECT_EQ(p->successful_tasks, 2u);
  EXPECT_DOUBLE_EQ(p->progress_percentage, 40.0);
  // 3 remaining at concurrency 2 -> 2 waves of the mean 100 ms.
  EXPECT_DOUBLE_EQ(p->estimated_remaining_ms, 200.0);
  Advance(100);
  p = Progress(id);
  EXPECT_EQ(p->completed_tasks, 5u);
  EXPECT_EQ(p->failed_tasks, 1u);
  EXPECT_EQ(p->state, BatchState::kFailed);
  EXPECT_EQ(p->estimated_remaining_ms, 0);
}

TEST_F(SchedulerTest, WatchProgressWaitsForChangeAndRespectsMinInterval) {
  std::string id = Submit(ThreeManualTasks(Aggregation::kUnordered));
  std::optional<ProgressUpdate> first;
  scheduler_->WatchProgress(id, 0, SteadyTime{},
                            [&](absl::StatusOr<ProgressUpdate> u) { first = *u; });
  timers_.Poll();
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->final);
  std::optional<ProgressUpdate> second;
  scheduler_->WatchProgress(id, first->version, first->delivered_at + milliseconds(100),
                            [&](absl::StatusOr<ProgressUpdate> u) { second = *u; });
  timers_.Poll();
  EXPECT_FALSE(second.has_value());  // nothing changed
  manual_->Finish("a", ExecutionOutcome::Success(nullptr));
  Advance(50);
  EXPECT_FALSE(second.has_value());  // changed, but within the interval
  Advance(50);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->progress.completed_tasks, 1u);
}

TEST_F(SchedulerTest, DaemonWideLimitIsSharedFairlyBetweenBatches) {
  SchedulerOptions options;
  options.max_running = 2;
  Start(options);
  BatchSpec big;
  for (int i = 0; i < 100; ++i)
    big.tasks.push_back(MakeTask("big" + std::to_string(i), "manual", nullptr));
  big.options.max_concurrent = 100;
  Submit(std::move(big));
  EXPECT_EQ(manual_->running(), 2u);
  BatchSpec small;
  small.tasks.push_back(MakeTask("small0", "manual", nullptr));
  small.tasks.push_back(MakeTask("small1", "manual", nullptr));
  Submit(std::move(small));
  manual_->Finish("big0", ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  manual_->Finish("big1", ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  // The freed slots went round-robin: the small batch got one of the two.
  std::vector<std::string> started = manual_->StartedIds();
  ASSERT_EQ(started.size(), 4u);
  EXPECT_EQ(std::count(started.begin(), started.end(), "small0"), 1);
}

TEST_F(SchedulerTest, FinishedBatchesAreFreedByCountAndAge) {
  SchedulerOptions options;
  options.max_finished_batches = 2;
  options.retention = std::chrono::seconds(10);
  Start(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    BatchSpec spec;
    spec.tasks.push_back(MakeTask("a", "echo", nullptr));
    ids.push_back(Submit(std::move(spec)));
  }
  EXPECT_EQ(Summary(ids[0]).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Summary(ids[1]).ok());
  Advance(9999);
  EXPECT_TRUE(Summary(ids[2]).ok());
  Advance(1);
  EXPECT_EQ(Summary(ids[2]).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(scheduler_->batch_count(), 0u);
}

TEST_F(SchedulerTest, TenThousandConcurrentSleepsUseTimersNotThreads) {
  BatchSpec spec;
  for (int i = 0; i < 10000; ++i) spec.tasks.push_back(Sleep("s" + std::to_string(i), 10));
  spec.options.max_concurrent = 10000;
  SchedulerOptions options;
  options.max_running = 10000;
  Start(options);
  std::string id = Submit(std::move(spec));
  EXPECT_EQ(Progress(id)->running_tasks, 10000u);
  Advance(10);
  EXPECT_EQ(Summary(id)->state, BatchState::kSucceeded);
}

TEST_F(SchedulerTest, WaitForCompletionDeliversSummaryOnceFinished) {
  std::string id = Submit(ThreeManualTasks(Aggregation::kUnordered));
  std::optional<BatchSummary> done;
  scheduler_->WaitForCompletion(id, [&](absl::StatusOr<BatchSummary> s) { done = *s; });
  timers_.Poll();
  EXPECT_FALSE(done.has_value());
  for (const char* t : {"a", "b", "c"}) manual_->Finish(t, ExecutionOutcome::Success(nullptr));
  timers_.Poll();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->results.size(), 3u);
}

TEST_F(SchedulerTest, ListBatchesIsNewestFirst) {
  std::string first = Submit(ThreeManualTasks(Aggregation::kUnordered));
  std::string second = Submit(ThreeManualTasks(Aggregation::kUnordered));
  std::vector<BatchProgress> list;
  scheduler_->ListBatches(0, [&](std::vector<BatchProgress> l) { list = std::move(l); });
  timers_.Poll();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].batch_id, second);
  EXPECT_EQ(list[1].batch_id, first);
}

}  // namespace
}  // namespace batchd::core
