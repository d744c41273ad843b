// Tests for `batchctl worker`'s child-process handler: the outcome rules (pure) and real
// children fed the assignment on stdin, failing, missing and cancelled.
#include "client/worker/process_task_handler.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace batchd::client {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr size_t kLimit = 1 << 20;
constexpr absl::Duration kWait = absl::Seconds(30);

core::ShellRunResult Exited(int code, std::string stdout_text, std::string stderr_text = "") {
  core::ShellRunResult result;
  result.wait_status = code << 8;
  result.stdout_text = std::move(stdout_text);
  result.stderr_text = std::move(stderr_text);
  return result;
}

TEST(ProcessOutcomeTest, JsonStdoutIsTheOutput) {
  const v1::TaskOutcome outcome = ProcessOutcome(Exited(0, "{\"sum\": 3}\n"), kLimit);
  EXPECT_TRUE(outcome.success());
  EXPECT_EQ(outcome.output().struct_value().fields().at("sum").number_value(), 3);
  EXPECT_EQ(ProcessOutcome(Exited(0, "42"), kLimit).output().number_value(), 42);
  EXPECT_EQ(ProcessOutcome(Exited(0, "\"quoted\"\n"), kLimit).output().string_value(), "quoted");
}

TEST(ProcessOutcomeTest, OtherStdoutIsTextWithoutOneTrailingNewline) {
  EXPECT_EQ(ProcessOutcome(Exited(0, "hello\n"), kLimit).output().string_value(), "hello");
  EXPECT_EQ(ProcessOutcome(Exited(0, "two\n\n"), kLimit).output().string_value(), "two\n");
  EXPECT_EQ(ProcessOutcome(Exited(0, ""), kLimit).output().string_value(), "");
  EXPECT_EQ(ProcessOutcome(Exited(0, "bad \xff byte"), kLimit).output().string_value(),
            "bad \xEF\xBF\xBD byte");
}

TEST(ProcessOutcomeTest, NonZeroExitFailsWithTheEndOfStderr) {
  v1::TaskOutcome outcome = ProcessOutcome(Exited(3, "partial", "warning\nboom\n"), kLimit);
  EXPECT_FALSE(outcome.success());
  EXPECT_FALSE(outcome.non_retryable());
  EXPECT_EQ(outcome.error(), "exit code 3: warning\nboom");
  EXPECT_EQ(ProcessOutcome(Exited(1, ""), kLimit).error(), "exit code 1");

  outcome = ProcessOutcome(Exited(2, "", std::string(5000, 'a') + "END"), kLimit);
  EXPECT_EQ(outcome.error().size(), std::string("exit code 2: ").size() + 1024);
  EXPECT_THAT(outcome.error(), testing::EndsWith("aEND"));

  core::ShellRunResult truncated = Exited(2, "", "the start only");
  truncated.stderr_truncated = true;
  truncated.stderr_tail = "the very end";
  EXPECT_EQ(ProcessOutcome(truncated, kLimit).error(), "exit code 2: the very end");
}

TEST(ProcessOutcomeTest, SignalsAndOversizedStdoutFail) {
  core::ShellRunResult killed;
  killed.wait_status = SIGKILL;
  EXPECT_EQ(ProcessOutcome(killed, kLimit).error(), "killed by signal 9 (SIGKILL)");

  core::ShellRunResult big = Exited(0, "{");
  big.stdout_truncated = true;
  const v1::TaskOutcome outcome = ProcessOutcome(big, 100);
  EXPECT_FALSE(outcome.success());
  EXPECT_TRUE(outcome.non_retryable());
  EXPECT_EQ(outcome.error(), "stdout exceeds 100 bytes");
}

TEST(AssignmentJsonTest, UsesProtoFieldNamesAndPrintsZeroValues) {
  v1::TaskAssignment assignment;
  assignment.set_assignment_id("as-1");
  assignment.set_task_id("t1");
  assignment.mutable_input()->set_string_value("in");
  (*assignment.mutable_dependency_outputs())["t0"].set_number_value(7);
  const std::string json = AssignmentJson(assignment);
  EXPECT_THAT(json, HasSubstr("\"assignment_id\":\"as-1\""));
  EXPECT_THAT(json, HasSubstr("\"attempt\":0"));
  EXPECT_THAT(json, HasSubstr("\"dependency_outputs\":{\"t0\":7}"));
  EXPECT_THAT(json, testing::EndsWith("}\n"));
}

// Collects one reply.
class ReplySlot {
 public:
  TaskHandler::Reply Reply() {
    return [this](v1::TaskOutcome outcome) {
      absl::MutexLock lock(&mu_);
      outcome_ = std::move(outcome);
    };
  }
  std::optional<v1::TaskOutcome> Await() {
    absl::MutexLock lock(&mu_);
    const auto has_outcome = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return outcome_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&has_outcome), kWait);
    return outcome_;
  }

 private:
  absl::Mutex mu_;
  std::optional<v1::TaskOutcome> outcome_ ABSL_GUARDED_BY(mu_);
};

ProcessTaskOptions Command(std::vector<std::string> argv) {
  return {.argv = std::move(argv), .env = {"PATH=/usr/bin:/bin"}};
}

v1::TaskAssignment Assignment() {
  v1::TaskAssignment assignment;
  assignment.set_assignment_id("as-1");
  assignment.set_task_id("t1");
  assignment.set_attempt(2);
  return assignment;
}

TEST(ProcessTaskHandlerTest, ChildReadsTheAssignmentOnStdin) {
  ProcessTaskHandler handler(Command({"cat"}));
  ReplySlot slot;
  handler.Start(Assignment(), slot.Reply());
  const std::optional<v1::TaskOutcome> outcome = slot.Await();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->success()) << outcome->error();
  const auto& fields = outcome->output().struct_value().fields();
  EXPECT_EQ(fields.at("task_id").string_value(), "t1");
  EXPECT_EQ(fields.at("attempt").number_value(), 2);
  EXPECT_EQ(handler.running(), 0u);
}

TEST(ProcessTaskHandlerTest, FailingChildReportsExitCodeAndStderr) {
  ProcessTaskHandler handler(Command({"sh", "-c", "echo oops >&2; exit 7"}));
  ReplySlot slot;
  handler.Start(Assignment(), slot.Reply());
  const std::optional<v1::TaskOutcome> outcome = slot.Await();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->error(), "exit code 7: oops");
}

TEST(ProcessTaskHandlerTest, MissingProgramFailsNonRetryably) {
  ProcessTaskHandler handler(Command({"/nonexistent/program"}));
  ReplySlot slot;
  handler.Start(Assignment(), slot.Reply());
  const std::optional<v1::TaskOutcome> outcome = slot.Await();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->success());
  EXPECT_TRUE(outcome->non_retryable());
  EXPECT_THAT(outcome->error(), StartsWith("cannot execute '/nonexistent/program'"));
}

TEST(ProcessTaskHandlerTest, CancelStopsTheChild) {
  ProcessTaskHandler handler(Command({"sleep", "60"}));
  ReplySlot slot;
  handler.Start(Assignment(), slot.Reply());
  EXPECT_EQ(handler.running(), 1u);
  handler.Cancel("as-1");
  handler.Cancel("unknown");  // ignored
  const std::optional<v1::TaskOutcome> outcome = slot.Await();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->error(), "cancelled");
  EXPECT_EQ(handler.running(), 0u);
}

}  // namespace
}  // namespace batchd::client
