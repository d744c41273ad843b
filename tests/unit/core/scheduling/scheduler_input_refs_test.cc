// The scheduler wiring dependency outputs into inputs, on the fake clock: a task starts with its
// references replaced by what its dependencies returned (and keeps that input across retries), a
// reference that names nothing fails the task before it takes anything and without retries, a
// failed dependency under RUN_DEPENDENTS resolves to null, and a bad reference refuses the batch.
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

namespace json = boost::json;
using ::testing::ElementsAre;

TaskSpec Manual(std::string id, const char* input_json, std::vector<std::string> deps = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = "manual";
  t.input = json::parse(input_json);
  t.dependencies = std::move(deps);
  return t;
}

class SchedulerInputRefsTest : public ::testing::Test {
 protected:
  SchedulerInputRefsTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
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
  void Finish(const std::string& id, ExecutionOutcome outcome) {
    EXPECT_TRUE(manual_->Finish(id, std::move(outcome))) << id;
    timers_.Poll();
  }
  // The input the attempt number `n` (in start order) was given, compact.
  std::string InputOf(size_t n) const { return json::serialize(manual_->attempts().at(n).input); }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  SchedulerOptions options_;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerInputRefsTest, ATaskStartsWithItsDependenciesOutputsInItsInput) {
  BatchSpec spec;
  spec.tasks = {Manual("a", "null"), Manual("n", "null"),
                Manual("b", R"({"url": "https://api/users/${a#/id}?n=${n}", "cost": "$$5",
                               "body": {"user": {"$ref": "a"}, "first": {"$ref": "a",
                               "path": "/tags/0"}}})",
                       {"a", "n"})};
  const std::string id = Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "n"));
  Finish("a", ExecutionOutcome::Success(json::parse(R"({"id": "u-17", "tags": ["x", "y"]})")));
  EXPECT_EQ(manual_->StartedIds().size(), 2u);  // b waits for n as well
  Finish("n", ExecutionOutcome::Success(42));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a", "n", "b"));
  EXPECT_EQ(InputOf(2),
            R"({"url":"https://api/users/u-17?n=42","cost":"$5","body":{"user":{"id":"u-17",)"
            R"("tags":["x","y"]},"first":"x"}})");
  Finish("b", ExecutionOutcome::Success(1));
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
}

TEST_F(SchedulerInputRefsTest, ARetryRunsWithTheSameResolvedInput) {
  BatchSpec spec;
  spec.options.retry_policy.kind = RetryKind::kFixed;
  spec.options.retry_policy.max_retries = 1;
  spec.options.retry_policy.initial_delay_ms = 10;
  spec.tasks = {Manual("a", "null"), Manual("b", R"({"$ref": "a", "path": "/v"})", {"a"})};
  const std::string id = Submit(std::move(spec));
  Finish("a", ExecutionOutcome::Success(json::parse(R"({"v": [1, 2]})")));
  Finish("b", ExecutionOutcome::Failure("flaky"));
  timers_.Advance(std::chrono::milliseconds(10));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a", "b", "b"));
  EXPECT_EQ(InputOf(1), "[1,2]");
  EXPECT_EQ(InputOf(2), "[1,2]");
  Finish("b", ExecutionOutcome::Success(1));
  EXPECT_EQ(ResultOf(Summary(id), "b").retry_count, 1u);
}

TEST_F(SchedulerInputRefsTest, AReferenceThatNamesNothingFailsTheTaskWithoutRunningOrRetryingIt) {
  BatchSpec spec;
  spec.options.retry_policy.max_retries = 3;
  spec.tasks = {Manual("a", "null"),
                Manual("b", R"({"body": {"$ref": "a", "path": "/user"}})", {"a"}),
                Manual("c", "null", {"b"})};
  const std::string id = Submit(std::move(spec));
  Finish("a", ExecutionOutcome::Success(json::parse(R"({"id": 1})")));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  const TaskResult& b = ResultOf(s, "b");
  EXPECT_EQ(b.state, TaskState::kFailed);
  EXPECT_EQ(b.error, "input.body.$ref: task 'a' has no '/user' in its output");
  EXPECT_EQ(b.retry_count, 0u);
  EXPECT_EQ(ResultOf(s, "c").state, TaskState::kSkipped);
}

TEST_F(SchedulerInputRefsTest, AFailedDependencyUnderRunDependentsResolvesToNull) {
  BatchSpec spec;
  spec.options.on_dependency_failure = DependencyFailure::kRunDependents;
  spec.options.retry_policy.max_retries = 0;
  spec.tasks = {Manual("a", "null"),
                Manual("b", R"({"got": {"$ref": "a", "path": "/id"}, "text": "a=${a}"})", {"a"})};
  Submit(std::move(spec));
  Finish("a", ExecutionOutcome::Failure("boom"));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
  EXPECT_EQ(InputOf(1), R"({"got":null,"text":"a=null"})");
}

TEST_F(SchedulerInputRefsTest, AReferenceToANonDependencyRefusesTheBatchAndRunsNothing) {
  BatchSpec spec;
  spec.tasks = {Manual("a", "null"), Manual("x", "null"),
                Manual("b", R"({"body": {"$ref": "x"}, "url": "${a"})", {"a"})};
  const absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
  timers_.Poll();
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      FieldViolationsOf(r.status()),
      ElementsAre(FieldViolation{"tasks[2].input.body.$ref",
                                 "Task 'b': refers to task 'x', which is not among its "
                                 "dependencies (add it to dependencies)"},
                  FieldViolation{"tasks[2].input.url",
                                 "Task 'b': template '${a' has no closing '}' (write '$$' for a "
                                 "literal '$')"}));
  EXPECT_TRUE(manual_->StartedIds().empty());
}

}  // namespace
}  // namespace batchd::core
