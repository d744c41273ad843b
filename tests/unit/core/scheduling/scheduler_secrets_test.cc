// The scheduler with secrets, on the fake clock: the executor's attempt gets the values while the
// batch keeps the references (retries included); what the attempt returns is redacted before it
// becomes a result (output and error, failures and retries alike); a secret its executor may not
// read, or an unknown one, refuses the batch at submit; a dependency's output is never read as a
// secret reference.
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
using ::testing::HasSubstr;
using ::testing::Not;

TaskSpec Task(std::string id, const char* input_json, std::string executor = "manual",
              std::vector<std::string> deps = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = std::move(executor);
  t.input = json::parse(input_json);
  t.dependencies = std::move(deps);
  return t;
}

std::shared_ptr<const SecretStore> Secrets() {
  auto store = std::make_shared<SecretStore>();
  EXPECT_TRUE(store->Add("api", "sk-VALUE", {"http", "manual"}).ok());
  EXPECT_TRUE(store->Add("http-only", "hk-VALUE", {"http"}).ok());
  return store;
}

class SchedulerSecretsTest : public ::testing::Test {
 protected:
  SchedulerSecretsTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    auto manual = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
    options_.secrets = Secrets();
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

TEST_F(SchedulerSecretsTest, TheAttemptGetsTheValueAndTheResultOnlyItsName) {
  BatchSpec spec;
  spec.tasks = {Task("a", R"({"headers": {"Authorization": "Bearer ${secret:api}"},
                              "key": {"$secret": "api"}, "cost": "$$5"})")};
  const std::string id = Submit(std::move(spec));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a"));
  EXPECT_EQ(InputOf(0),
            R"({"headers":{"Authorization":"Bearer sk-VALUE"},"key":"sk-VALUE","cost":"$5"})");
  Finish("a", ExecutionOutcome::Success(
                  json::parse(R"({"body": {"echo": "Bearer sk-VALUE", "sk-VALUE": 1}})")));
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  EXPECT_EQ(json::serialize(ResultOf(s, "a").output),
            R"({"body":{"echo":"Bearer [secret:api]","[secret:api]":1}})");
}

TEST_F(SchedulerSecretsTest, AFailureIsRedactedAndARetryGetsTheValueAgain) {
  BatchSpec spec;
  spec.options.retry_policy.kind = RetryKind::kFixed;
  spec.options.retry_policy.max_retries = 1;
  spec.options.retry_policy.initial_delay_ms = 10;
  spec.tasks = {Task("a", R"({"k": "${secret:api}"})")};
  const std::string id = Submit(std::move(spec));
  Finish("a", ExecutionOutcome::Failure("HTTP 401: key sk-VALUE refused"));
  timers_.Advance(std::chrono::milliseconds(10));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a", "a"));
  EXPECT_EQ(InputOf(1), R"({"k":"sk-VALUE"})");
  ExecutionOutcome failed = ExecutionOutcome::Failure("HTTP 401: key sk-VALUE refused");
  failed.output = json::parse(R"({"body": "sk-VALUE"})");
  Finish("a", std::move(failed));
  const TaskResult& r = ResultOf(Summary(id), "a");
  EXPECT_EQ(r.state, TaskState::kFailed);
  EXPECT_EQ(r.error, "HTTP 401: key [secret:api] refused");
  EXPECT_EQ(json::serialize(r.output), R"({"body":"[secret:api]"})");
}

TEST_F(SchedulerSecretsTest, AnExecutorTheSecretDoesNotListIsRefusedAtSubmit) {
  BatchSpec spec;
  spec.tasks = {Task("ok", R"({"k": "${secret:api}"})"),
                Task("e", R"({"k": "${secret:http-only}"})", "echo")};
  const absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<FieldViolation> violations = FieldViolationsOf(r.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "tasks[1].input.k");
  EXPECT_THAT(violations[0].description,
              HasSubstr("executor 'echo' may not read secret 'http-only' (readable by: http;"));
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr("hk-VALUE")));
}

TEST_F(SchedulerSecretsTest, AnUnknownSecretIsRefusedAtSubmit) {
  BatchSpec spec;
  spec.tasks = {Task("a", R"({"k": {"$secret": "openai"}})")};
  const absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<FieldViolation> violations = FieldViolationsOf(r.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "tasks[0].input.k.$secret");
  EXPECT_EQ(violations[0].description,
            "Task 'a': unknown secret 'openai' (the daemon's --secrets-file defines: api, "
            "http-only)");
}

TEST_F(SchedulerSecretsTest, ADependencyOutputIsNeverReadAsASecretReference) {
  BatchSpec spec;
  spec.tasks = {Task("a", "null"),
                Task("b", R"({"h": "${a#/t} ${secret:api}", "plain": "${a#/t}", "o": {"$ref": "a",
                              "path": "/o"}})",
                     "manual", {"a"})};
  Submit(std::move(spec));
  Finish("a", ExecutionOutcome::Success(
                  json::parse(R"({"t": "${secret:api}$$", "o": {"$secret": "api"}})")));
  ASSERT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
  EXPECT_EQ(InputOf(1),
            R"({"h":"${secret:api}$$ sk-VALUE","plain":"${secret:api}$$","o":{"$secret":"api"}})");
}

TEST_F(SchedulerSecretsTest, WithoutASecretsStoreEveryReferenceIsUnknown) {
  SchedulerOptions options;
  Scheduler plain(strand_, clock_, timers_, registry_, options);
  BatchSpec spec;
  spec.tasks = {Task("a", R"({"k": "${secret:api}"})")};
  const absl::StatusOr<SubmitResult> r = plain.Submit(std::move(spec));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("the daemon defines no secrets"));
}

}  // namespace
}  // namespace batchd::core
