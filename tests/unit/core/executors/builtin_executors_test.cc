// echo, sleep and fail on simulated time: what each reports, when, and for which inputs it
// refuses to run.
#include "core/executors/builtin_executors.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/executors/executor_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::IsEmpty;

class RecordingSink final : public CompletionSink {
 public:
  void Complete(const AttemptToken& token, ExecutionOutcome outcome) override {
    completions.emplace_back(token, std::move(outcome));
  }
  std::vector<std::pair<AttemptToken, ExecutionOutcome>> completions;
};

constexpr char kSleepInputError[] =
    "sleep: input.ms must be a whole number of milliseconds between 0 and 86400000 (input is a "
    "number or {\"ms\": N})";

class BuiltinExecutorsTest : public ::testing::Test {
 protected:
  // Starts an attempt of `executor` with `input` (attempt = retries so far).
  AttemptToken Start(Executor& executor, const boost::json::value& input, uint32_t attempt = 0) {
    const AttemptToken token{1, next_task_++, attempt};
    ExecutionRequest request{token, "batch", "task", input, 0, attempt, 0, {}};
    executor.Start(request, sink_);
    return token;
  }
  // The one outcome reported so far; fails the test unless exactly one was.
  ExecutionOutcome Only() {
    EXPECT_EQ(sink_.completions.size(), 1u);
    if (sink_.completions.empty()) return ExecutionOutcome::Failure("test: no outcome");
    return sink_.completions.front().second;
  }
  void Advance(milliseconds d) { timers_.Advance(d); }

  boost::asio::io_context io_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_{clock_, io_, boost::asio::make_strand(io_)};
  RecordingSink sink_;
  uint32_t next_task_ = 0;
};

TEST_F(BuiltinExecutorsTest, EchoAnswersItsInputAtOnce) {
  EchoExecutor echo;
  const boost::json::value input = boost::json::parse(R"({"a":[1,2,{"b":null}],"c":"d"})");
  const AttemptToken token = Start(echo, input);
  ASSERT_EQ(sink_.completions.size(), 1u);
  EXPECT_EQ(sink_.completions[0].first, token);
  EXPECT_TRUE(sink_.completions[0].second.success);
  EXPECT_EQ(sink_.completions[0].second.output, input);
}

TEST_F(BuiltinExecutorsTest, EchoOfNullIsNull) {
  EchoExecutor echo;
  Start(echo, nullptr);
  EXPECT_TRUE(Only().success);
  EXPECT_TRUE(Only().output.is_null());
}

TEST_F(BuiltinExecutorsTest, SleepFinishesExactlyWhenItsTimeIsUp) {
  SleepExecutor sleep(clock_, timers_);
  const AttemptToken token = Start(sleep, 250);
  Advance(milliseconds(249));
  EXPECT_THAT(sink_.completions, IsEmpty());
  Advance(milliseconds(1));
  ASSERT_EQ(sink_.completions.size(), 1u);
  EXPECT_EQ(sink_.completions[0].first, token);
  EXPECT_TRUE(sink_.completions[0].second.success);
  EXPECT_EQ(sink_.completions[0].second.output, boost::json::parse(R"({"slept_ms":250})"));
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(BuiltinExecutorsTest, SleepTakesAnObjectWithMsAndWholeDoubles) {
  SleepExecutor sleep(clock_, timers_);
  Start(sleep, boost::json::parse(R"({"ms": 40})"));
  Start(sleep, 20.0);
  Advance(milliseconds(20));
  ASSERT_EQ(sink_.completions.size(), 1u);
  EXPECT_EQ(sink_.completions[0].first.task, 1u);  // the 20 ms one first
  Advance(milliseconds(20));
  ASSERT_EQ(sink_.completions.size(), 2u);
  EXPECT_EQ(sink_.completions[1].first.task, 0u);
  EXPECT_EQ(sink_.completions[1].second.output.at("slept_ms"), 40);
}

TEST_F(BuiltinExecutorsTest, SleepOfZeroFinishesOnTheNextTurnNotInsideStart) {
  SleepExecutor sleep(clock_, timers_);
  Start(sleep, 0);
  EXPECT_THAT(sink_.completions, IsEmpty());
  Advance(milliseconds(0));
  EXPECT_TRUE(Only().success);
}

TEST_F(BuiltinExecutorsTest, SleepAcceptsUpToADay) {
  SleepExecutor sleep(clock_, timers_);
  Start(sleep, 86400000);
  EXPECT_THAT(sink_.completions, IsEmpty());
  EXPECT_EQ(timers_.pending(), 1u);
  Advance(std::chrono::hours(24));
  EXPECT_TRUE(Only().success);
}

TEST_F(BuiltinExecutorsTest, SleepRefusesAnythingButAWholeNumberOfMillisecondsUpToADay) {
  SleepExecutor sleep(clock_, timers_);
  for (const char* input : {"-1", "1.5", "\"10\"", "true", "null", "[5]", "{}", R"({"msec": 5})",
                            R"({"ms": "5"})", R"({"ms": -5})", "86400001"}) {
    sink_.completions.clear();
    Start(sleep, boost::json::parse(input));
    ASSERT_EQ(sink_.completions.size(), 1u) << input;
    const ExecutionOutcome& outcome = sink_.completions[0].second;
    EXPECT_FALSE(outcome.success) << input;
    EXPECT_EQ(outcome.error, kSleepInputError) << input;
    EXPECT_TRUE(outcome.non_retryable) << input;
  }
  EXPECT_EQ(timers_.pending(), 0u);
}

TEST_F(BuiltinExecutorsTest, CancelledSleepNeverReportsAndDropsItsTimer) {
  SleepExecutor sleep(clock_, timers_);
  const AttemptToken cancelled = Start(sleep, 100);
  const AttemptToken kept = Start(sleep, 100);
  sleep.Cancel(cancelled);
  EXPECT_EQ(timers_.pending(), 1u);
  Advance(milliseconds(100));
  ASSERT_EQ(sink_.completions.size(), 1u);
  EXPECT_EQ(sink_.completions[0].first, kept);
}

TEST_F(BuiltinExecutorsTest, CancelOfAFinishedOrUnknownSleepIsHarmless) {
  SleepExecutor sleep(clock_, timers_);
  const AttemptToken token = Start(sleep, 10);
  Advance(milliseconds(10));
  sleep.Cancel(token);
  sleep.Cancel(AttemptToken{9, 9, 9});
  EXPECT_EQ(sink_.completions.size(), 1u);
  // The executor is still usable.
  Start(sleep, 5);
  Advance(milliseconds(5));
  EXPECT_EQ(sink_.completions.size(), 2u);
}

TEST_F(BuiltinExecutorsTest, SleepsOfTwoGenerationsOfOneTaskAreKeptApart) {
  SleepExecutor sleep(clock_, timers_);
  boost::json::value input = 50;
  const AttemptToken first{1, 7, 0};
  const AttemptToken second{1, 7, 1};
  sleep.Start(ExecutionRequest{first, "batch", "task", input, 0, 0, 0, {}}, sink_);
  sleep.Start(ExecutionRequest{second, "batch", "task", input, 0, 1, 0, {}}, sink_);
  sleep.Cancel(first);
  Advance(milliseconds(50));
  ASSERT_EQ(sink_.completions.size(), 1u);
  EXPECT_EQ(sink_.completions[0].first, second);
}

TEST_F(BuiltinExecutorsTest, FailFailsRetryablyWithTheDefaultMessage) {
  FailExecutor fail;
  Start(fail, nullptr);
  const ExecutionOutcome outcome = Only();
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, "fail: failing as requested");
  EXPECT_FALSE(outcome.non_retryable);
}

TEST_F(BuiltinExecutorsTest, FailUsesTheGivenError) {
  FailExecutor fail;
  Start(fail, boost::json::parse(R"({"error": "disk on fire"})"));
  EXPECT_EQ(Only().error, "disk on fire");
}

TEST_F(BuiltinExecutorsTest, FailSucceedsFromTheGivenAttemptOn) {
  FailExecutor fail;
  const boost::json::value input =
      boost::json::parse(R"({"error": "not yet", "succeed_on_attempt": 2})");
  for (uint32_t attempt = 0; attempt < 4; ++attempt) Start(fail, input, attempt);
  ASSERT_EQ(sink_.completions.size(), 4u);
  EXPECT_EQ(sink_.completions[0].second.error, "not yet");
  EXPECT_EQ(sink_.completions[1].second.error, "not yet");
  EXPECT_FALSE(sink_.completions[1].second.success);
  EXPECT_TRUE(sink_.completions[2].second.success);
  EXPECT_EQ(sink_.completions[2].second.output, boost::json::parse(R"({"attempt":2})"));
  EXPECT_EQ(sink_.completions[3].second.output, boost::json::parse(R"({"attempt":3})"));
}

TEST_F(BuiltinExecutorsTest, FailWithSucceedOnAttemptZeroSucceedsAtOnce) {
  FailExecutor fail;
  Start(fail, boost::json::parse(R"({"succeed_on_attempt": 0})"));
  EXPECT_TRUE(Only().success);
}

TEST_F(BuiltinExecutorsTest, FailRefusesASucceedOnAttemptThatIsNotANonNegativeInteger) {
  FailExecutor fail;
  for (const char* input : {R"({"succeed_on_attempt": -1})", R"({"succeed_on_attempt": 1.5})",
                            R"({"succeed_on_attempt": "2"})", R"({"succeed_on_attempt": null})"}) {
    sink_.completions.clear();
    Start(fail, boost::json::parse(input), 5);
    ASSERT_EQ(sink_.completions.size(), 1u) << input;
    EXPECT_EQ(sink_.completions[0].second.error,
              "fail: input.succeed_on_attempt must be a non-negative integer")
        << input;
    EXPECT_TRUE(sink_.completions[0].second.non_retryable) << input;
  }
}

TEST_F(BuiltinExecutorsTest, RegistersEchoSleepAndFailAsBuiltins) {
  ExecutorRegistry registry;
  ASSERT_TRUE(RegisterBuiltinExecutors(registry, clock_, timers_).ok());
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"echo", "external", "fail", "sleep"}));
  for (const ExecutorDescription& d : registry.List()) {
    EXPECT_EQ(d.kind, "builtin") << d.name;
    EXPECT_EQ(d.capacity, 0u) << d.name;
  }
  std::shared_ptr<Executor> sleep = registry.Find("sleep");
  ASSERT_NE(sleep, nullptr);
  Start(*sleep, 5);
  Advance(milliseconds(5));
  EXPECT_TRUE(Only().success);  // the registered sleep runs on the given timers
}

TEST_F(BuiltinExecutorsTest, RegisteringTwiceIsAlreadyExists) {
  ExecutorRegistry registry;
  ASSERT_TRUE(RegisterBuiltinExecutors(registry, clock_, timers_).ok());
  const absl::Status again = RegisterBuiltinExecutors(registry, clock_, timers_);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(), "Executor 'echo' already registered");
}

}  // namespace
}  // namespace batchd::core
