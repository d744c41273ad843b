// The scheduler with shared limits, on the fake clock: tasks waiting for a key hold no batch or
// daemon slot, a rate's refill wakes them by its one timer, a queue timeout ends them, a throttled
// attempt runs again outside the retry budget, cancel gives back what was held and waited for,
// and reported units are reconciled with what was taken.
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
using ::testing::IsEmpty;

TaskSpec Manual(std::string id, std::vector<LimitUse> limits, double priority = 0) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = "manual";
  t.limits = std::move(limits);
  t.priority = priority;
  return t;
}

LimitSpec InFlight(std::string key, int64_t max) {
  LimitSpec s;
  s.key = std::move(key);
  s.max_in_flight = max;
  return s;
}

LimitSpec Rate(std::string key, int64_t units, Duration period, std::optional<int64_t> burst = {}) {
  LimitSpec s;
  s.key = std::move(key);
  s.rates.push_back(LimitRate{units, period, burst, RateMeasure::kUnits});
  return s;
}

ExecutionOutcome Throttled(std::optional<uint32_t> retry_after_ms) {
  ExecutionOutcome o;
  o.error = "HTTP 429";
  o.throttled = true;
  o.retry_after_ms = retry_after_ms;
  return o;
}

class SchedulerLimitsTest : public ::testing::Test {
 protected:
  SchedulerLimitsTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    auto manual = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
    scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options_);
  }

  void SetLimit(LimitSpec spec) {
    std::optional<absl::StatusOr<LimitState>> out;
    scheduler_->SetLimit(std::move(spec), [&](absl::StatusOr<LimitState> s) { out = s; });
    timers_.Poll();
    ASSERT_TRUE(out.has_value() && out->ok()) << (out.has_value() ? out->status().ToString() : "");
  }
  std::vector<LimitState> Limits() {
    std::vector<LimitState> out;
    scheduler_->ListLimits([&](std::vector<LimitState> all) { out = std::move(all); });
    timers_.Poll();
    return out;
  }
  std::string Submit(BatchSpec spec) {
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    timers_.Poll();
    return r.ok() ? r->batch_id : "";
  }
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
  static const TaskResult& ResultOf(const BatchSummary& s, const std::string& id) {
    for (const TaskResult* r : s.results) {
      if (*r->task_id == id) return *r;
    }
    ADD_FAILURE() << "no result for " << id;
    static TaskResult none;
    return none;
  }
  void Finish(const std::string& id, ExecutionOutcome outcome = ExecutionOutcome::Success(1)) {
    EXPECT_TRUE(manual_->Finish(id, std::move(outcome))) << id;
    timers_.Poll();
  }
  void Advance(int ms) { timers_.Advance(milliseconds(ms)); }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  SchedulerOptions options_;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerLimitsTest, ATaskWaitingForItsLimitHoldsNoBatchSlot) {
  SetLimit(InFlight("api", 1));
  BatchSpec spec;
  spec.options.max_concurrent = 2;
  spec.tasks = {Manual("a", {{"api", 1}}, 3), Manual("b", {{"api", 1}}, 2), Manual("c", {}, 1)};
  const std::string id = Submit(std::move(spec));
  // b waits for 'api' without taking one of the two batch slots, so c runs beside a.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "c"));
  BatchProgress p = Progress(id);
  EXPECT_EQ(p.running_tasks, 2u);
  EXPECT_EQ(p.pending_tasks, 1u);
  EXPECT_EQ(p.throttled_tasks, 1u);
  ASSERT_EQ(p.limit_waits.size(), 1u);
  EXPECT_EQ(p.limit_waits[0].key, "api");
  EXPECT_EQ(p.limit_waits[0].tasks, 1u);
  EXPECT_EQ(p.limit_waits[0].reason, "waiting for limit 'api' (concurrency)");

  Finish("a");  // its slot of 'api' goes to b at once
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "c", "b"));
  p = Progress(id);
  EXPECT_EQ(p.throttled_tasks, 0u);
  EXPECT_THAT(p.limit_waits, IsEmpty());
  Finish("b");
  Finish("c");
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
  EXPECT_EQ(manual_->peak_running(), 2u);
}

TEST_F(SchedulerLimitsTest, OneKeyIsSharedByEveryBatchAndNoneHoldsTheDaemonSlots) {
  options_.max_running = 2;
  scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options_);
  SetLimit(InFlight("api", 1));
  BatchSpec one;
  one.tasks = {Manual("a1", {{"api", 1}}), Manual("a2", {{"api", 1}})};
  BatchSpec two;
  two.tasks = {Manual("b1", {{"api", 1}}), Manual("free", {})};
  Submit(std::move(one));
  Submit(std::move(two));
  // One 'api' call in flight among both batches; the waiting ones leave the second daemon slot
  // to the task that needs no limit.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a1", "free"));
  Finish("a1");
  Finish("free");
  Finish(manual_->attempts()[2].task_id);
  EXPECT_EQ(manual_->StartedIds().size(), 4u);
  EXPECT_EQ(manual_->peak_running(), 2u);
}

TEST_F(SchedulerLimitsTest, ARateWakesItsWaitersWhenTheBucketRefills) {
  SetLimit(Rate("api", 2, std::chrono::seconds(1)));  // 2 per second, burst 2
  BatchSpec spec;
  spec.tasks = {Manual("t1", {{"api", 1}}, 4), Manual("t2", {{"api", 1}}, 3),
                Manual("t3", {{"api", 1}}, 2), Manual("t4", {{"api", 1}}, 1)};
  const std::string id = Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("t1", "t2"));
  EXPECT_EQ(Progress(id).limit_waits.at(0).reason, "waiting for limit 'api' (rate)");
  Advance(499);  // one unit comes back every 500 ms
  EXPECT_EQ(manual_->StartedIds().size(), 2u);
  Advance(1);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("t1", "t2", "t3"));
  Advance(500);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("t1", "t2", "t3", "t4"));
  for (const char* t : {"t1", "t2", "t3", "t4"}) Finish(t);
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  EXPECT_EQ(ToMillis(ResultOf(s, "t4").started_at - ResultOf(s, "t1").started_at), 1000);
}

TEST_F(SchedulerLimitsTest, AQueueTimeoutEndsAWaitingTaskNamingTheKeyAndWhy) {
  SetLimit(InFlight("api", 1));
  BatchSpec spec;
  spec.options.queue_timeout_ms = 1000;
  spec.tasks = {Manual("a", {{"api", 1}}, 1), Manual("b", {{"api", 1}})};
  const std::string id = Submit(std::move(spec));
  Advance(999);
  EXPECT_EQ(Progress(id).throttled_tasks, 1u);
  Advance(1);
  const TaskResult& b = ResultOf(Summary(id), "b");
  EXPECT_EQ(b.state, TaskState::kTimedOut);
  EXPECT_EQ(b.error, "Timeout after waiting 1000 ms for limit 'api' (concurrency)");
  EXPECT_EQ(Progress(id).throttled_tasks, 0u);
  Finish("a");
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));  // b never ran
  EXPECT_EQ(Limits().at(0).waiting, 0u);
}

TEST_F(SchedulerLimitsTest, AThrottledAttemptRunsAgainAfterRetryAfterWithoutSpendingRetries) {
  SetLimit(InFlight("api", 4));
  BatchSpec spec;
  spec.options.retry_policy.kind = RetryKind::kNone;  // no retry budget at all
  spec.tasks = {Manual("a", {{"api", 1}})};
  const std::string id = Submit(std::move(spec));
  Finish("a", Throttled(250));
  EXPECT_EQ(Progress(id).running_tasks, 0u);
  Advance(249);
  EXPECT_EQ(manual_->attempts().size(), 1u);
  Advance(1);
  ASSERT_EQ(manual_->attempts().size(), 2u);
  Finish("a");
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  EXPECT_EQ(ResultOf(s, "a").retry_count, 0u);
  const LimitState state = Limits().at(0);
  EXPECT_EQ(state.throttled, 1);
  EXPECT_EQ(state.in_flight, 0);
}

TEST_F(SchedulerLimitsTest, ThrottledRetriesAreBoundedThenCountAsAFailure) {
  SetLimit(InFlight("api", 1));
  BatchSpec spec;
  spec.options.retry_policy.kind = RetryKind::kNone;
  spec.tasks = {Manual("a", {{"api", 1}})};
  const std::string id = Submit(std::move(spec));
  for (int i = 0; i <= kMaxThrottledRetries; ++i) {
    Finish("a", Throttled(10));
    Advance(10);
  }
  EXPECT_EQ(manual_->attempts().size(), size_t{kMaxThrottledRetries} + 1);
  const TaskResult& a = ResultOf(Summary(id), "a");
  EXPECT_EQ(a.state, TaskState::kFailed);
  EXPECT_EQ(a.error, "HTTP 429");
}

TEST_F(SchedulerLimitsTest, CancelGivesBackHeldLimitsAndLeavesTheQueue) {
  SetLimit(InFlight("api", 1));
  BatchSpec first;
  first.tasks = {Manual("a", {{"api", 1}}), Manual("b", {{"api", 1}})};
  BatchSpec second;
  second.tasks = {Manual("c", {{"api", 1}})};
  const std::string one = Submit(std::move(first));
  Submit(std::move(second));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  EXPECT_EQ(Limits().at(0).waiting, 2u);
  std::optional<absl::StatusOr<BatchProgress>> cancelled;
  scheduler_->Cancel(one, "stop", [&](absl::StatusOr<BatchProgress> p) { cancelled = p; });
  timers_.Poll();
  // a's attempt is cancelled and its slot returns; b leaves the queue; c runs.
  EXPECT_EQ(manual_->cancelled().size(), 1u);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "c"));
  const LimitState state = Limits().at(0);
  EXPECT_EQ(state.in_flight, 1);
  EXPECT_EQ(state.waiting, 0u);
}

TEST_F(SchedulerLimitsTest, ReportedUnitsRefundWhatWasNotUsed) {
  SetLimit(Rate("tokens", 10, std::chrono::seconds(10)));  // 10 per 10 s, burst 10
  BatchSpec spec;
  spec.tasks = {Manual("big", {{"tokens", 10}}, 1), Manual("next", {{"tokens", 6}})};
  Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("big"));
  ExecutionOutcome used = ExecutionOutcome::Success(1);
  used.units_used = 4;  // 6 of the 10 taken come back
  Finish("big", std::move(used));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("big", "next"));
}

TEST_F(SchedulerLimitsTest, ReportedUnitsOverWhatWasTakenAreADebt) {
  SetLimit(Rate("tokens", 10, std::chrono::seconds(10)));  // one unit per second
  BatchSpec spec;
  spec.tasks = {Manual("big", {{"tokens", 5}}, 1), Manual("next", {{"tokens", 5}})};
  Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("big", "next"));
  BatchSpec later;
  later.tasks = {Manual("late", {{"tokens", 1}})};
  ExecutionOutcome used = ExecutionOutcome::Success(1);
  used.units_used = 8;  // 3 more than taken: the bucket owes 3
  Finish("big", std::move(used));
  Submit(std::move(later));
  Advance(3999);  // 3 s to pay the debt, 1 s for the unit
  EXPECT_EQ(manual_->StartedIds().size(), 2u);
  Advance(1);
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("big", "next", "late"));
}

TEST_F(SchedulerLimitsTest, AnUnknownKeyIsRefusedAtSubmitUnlessTheBatchAllowsIt) {
  BatchSpec spec;
  spec.tasks = {Manual("a", {{"nope", 1}})};
  absl::StatusOr<SubmitResult> r = scheduler_->Submit(spec);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Unknown limit 'nope' named by task 'a' (configure it, or set "
            "options.allow_unknown_limits)");
  EXPECT_EQ(FieldViolationsOf(r.status()).at(0).field, "tasks[0].limits[0].key");
  spec.options.allow_unknown_limits = true;
  const std::string id = Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));  // no limit: it just runs
  Finish("a");
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
}

TEST_F(SchedulerLimitsTest, DeletingAKeyStartsItsWaiters) {
  SetLimit(InFlight("api", 1));
  BatchSpec spec;
  spec.tasks = {Manual("a", {{"api", 1}}, 1), Manual("b", {{"api", 1}})};
  Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  std::optional<absl::Status> deleted;
  scheduler_->DeleteLimit("api", [&](absl::Status s) { deleted = s; });
  timers_.Poll();
  ASSERT_TRUE(deleted.has_value() && deleted->ok());
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
  scheduler_->DeleteLimit("api", [&](absl::Status s) { deleted = s; });
  timers_.Poll();
  EXPECT_EQ(deleted->code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(deleted->message(), "No limit 'api'");
}

TEST_F(SchedulerLimitsTest, RaisingALimitAtRunTimeStartsMoreWaitersAtOnce) {
  SetLimit(InFlight("api", 1));
  BatchSpec spec;
  spec.tasks = {Manual("a", {{"api", 1}}, 3), Manual("b", {{"api", 1}}, 2),
                Manual("c", {{"api", 1}}, 1)};
  Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  SetLimit(InFlight("api", 3));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b", "c"));
}

}  // namespace
}  // namespace batchd::core
