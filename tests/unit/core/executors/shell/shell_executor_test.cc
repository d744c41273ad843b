// ShellExecutor with real processes: argv and environment reach the program exactly, output is
// captured and limited, errors name the field or the exit, and cancel leaves no process behind
// (10,000 runs leaving no zombie or descriptor: tests/integration/shell_executor_churn_test.cc).
// The io_context runs on two threads; every wait is a bounded poll.
#include "core/executors/shell/shell_executor.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::UnorderedElementsAreArray;

constexpr absl::Duration kWait = absl::Seconds(30);  // generous: a busy 2-core machine

// Outcomes by task index, for the test thread to wait on.
class RecordingSink final : public CompletionSink {
 public:
  void Complete(const AttemptToken& token, ExecutionOutcome outcome) override {
    absl::MutexLock lock(&mu_);
    outcomes_.emplace(token.task, std::move(outcome));
    ++reports_;
  }
  std::optional<ExecutionOutcome> Await(uint32_t task, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return outcomes_.contains(task); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return std::nullopt;
    return outcomes_.at(task);
  }
  int reports() {
    absl::MutexLock lock(&mu_);
    return reports_;
  }

 private:
  absl::Mutex mu_;
  std::map<uint32_t, ExecutionOutcome> outcomes_ ABSL_GUARDED_BY(mu_);
  int reports_ ABSL_GUARDED_BY(mu_) = 0;
};

// Polls `condition` every 5 ms for at most `timeout`.
template <typename F>
bool Eventually(F condition, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Processes (zombies excluded) whose process group is `pgid`.
int LiveMembersOfGroup(pid_t pgid) {
  int count = 0;
  DIR* dir = opendir("/proc");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    std::ifstream stat(absl::StrCat("/proc/", entry->d_name, "/stat"));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    // After "pid (comm)": state ppid pgrp ...
    std::istringstream fields(text.substr(paren + 2));
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') ++count;
  }
  closedir(dir);
  return count;
}

boost::json::value Argv(std::vector<std::string> argv) {
  boost::json::array items;
  for (std::string& a : argv) items.emplace_back(a);
  return boost::json::object{{"argv", std::move(items)}};
}

std::string Str(const boost::json::value& output, const char* field) {
  return std::string(output.at(field).as_string());
}

class ShellExecutorTest : public ::testing::Test {
 protected:
  ShellExecutorTest()
      : strand_(boost::asio::make_strand(io_)), work_(boost::asio::make_work_guard(io_)) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~ShellExecutorTest() override {
    work_.reset();
    io_.stop();
    for (std::thread& t : threads_) t.join();
    executor_.reset();  // after the threads, as the daemon does
  }

  ShellExecutor& MakeExecutor(ShellOptions options = {}) {
    executor_ = std::make_unique<ShellExecutor>(io_, std::move(options));
    return *executor_;
  }
  ShellExecutor& executor() {
    if (executor_ == nullptr) MakeExecutor();
    return *executor_;
  }

  // Runs `f` on the scheduler strand, as the scheduler calls Start and Cancel, and waits.
  template <typename F>
  void OnStrand(F f) {
    absl::Notification done;
    boost::asio::post(strand_, [&] {
      f();
      done.Notify();
    });
    done.WaitForNotification();
  }

  AttemptToken Start(const boost::json::value& input) {
    const AttemptToken token{1, next_task_++, 0};
    OnStrand([&] {
      ExecutionRequest request{token, "batch", "task", input, 0, 0, 0, SteadyTime{}};
      executor().Start(request, sink_);
    });
    return token;
  }
  void Cancel(const AttemptToken& token) {
    OnStrand([&] { executor().Cancel(token); });
  }
  ExecutionOutcome Run(const boost::json::value& input) {
    const AttemptToken token = Start(input);
    std::optional<ExecutionOutcome> outcome = sink_.Await(token.task, kWait);
    EXPECT_TRUE(outcome.has_value()) << "no outcome within " << kWait;
    return outcome.value_or(ExecutionOutcome::Failure("test: no outcome"));
  }

  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<ShellExecutor> executor_;
  RecordingSink sink_;
  uint32_t next_task_ = 0;
};

// --- What reaches the program ------------------------------------------------------------------

TEST_F(ShellExecutorTest, ArgvReachesTheProgramUnchangedWithoutShellInterpretation) {
  const ExecutionOutcome outcome =
      Run(Argv({"/usr/bin/printf", "%s\\n", "two words", "it's \"quoted\"", "$(rm -rf /)",
                "`id`; echo pwned", "*", "$HOME", ""}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"),
            "two words\nit's \"quoted\"\n$(rm -rf /)\n`id`; echo pwned\n*\n$HOME\n\n");
  EXPECT_EQ(outcome.output.at("exit_code").as_int64(), 0);
  EXPECT_EQ(Str(outcome.output, "stderr"), "");
  EXPECT_FALSE(outcome.output.at("stdout_truncated").as_bool());
  EXPECT_FALSE(outcome.output.at("stderr_truncated").as_bool());
}

TEST_F(ShellExecutorTest, ProgramIsLookedUpInTheChildsPath) {
  const ExecutionOutcome outcome = Run(Argv({"echo", "hi"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "hi\n");
}

TEST_F(ShellExecutorTest, EnvironmentIsTheAllowlistPlusTheTaskEnvOnly) {
  ASSERT_EQ(setenv("BATCHD_SECRET", "hunter2", 1), 0);
  ASSERT_EQ(setenv("HOME", "/home/for-test", 1), 0);
  MakeExecutor();  // reads the daemon's environment now
  boost::json::value input = Argv({"/usr/bin/env"});
  input.as_object()["env"] = boost::json::object{{"FOO", "bar baz"}, {"HOME", "/override"}};
  const ExecutionOutcome outcome = Run(input);
  ASSERT_TRUE(outcome.success) << outcome.error;

  std::vector<std::string> expected = {"FOO=bar baz", "HOME=/override"};
  for (const char* name : {"PATH", "LANG"}) {
    if (const char* value = getenv(name)) expected.push_back(absl::StrCat(name, "=", value));
  }
  const std::vector<std::string> lines =
      absl::StrSplit(Str(outcome.output, "stdout"), '\n', absl::SkipEmpty());
  EXPECT_THAT(lines, UnorderedElementsAreArray(expected));
  unsetenv("BATCHD_SECRET");
}

TEST_F(ShellExecutorTest, AllowlistIsConfigurable) {
  ASSERT_EQ(setenv("BATCHD_VISIBLE", "yes", 1), 0);
  ShellOptions options;
  options.env_allowlist = {"BATCHD_VISIBLE", "BATCHD_NOT_SET_ANYWHERE"};
  MakeExecutor(options);
  const ExecutionOutcome outcome = Run(Argv({"/usr/bin/env"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "BATCHD_VISIBLE=yes\n");
  unsetenv("BATCHD_VISIBLE");
}

TEST_F(ShellExecutorTest, WithoutPathInItsEnvironmentTheChildSearchesUsrBinAndBin) {
  ShellOptions options;
  options.env_allowlist = {};
  MakeExecutor(options);
  const ExecutionOutcome outcome = Run(Argv({"echo", "found"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "found\n");
}

TEST_F(ShellExecutorTest, StdinIsDelivered) {
  boost::json::value input = Argv({"/bin/cat"});
  input.as_object()["stdin"] = "line one\nline two";
  const ExecutionOutcome outcome = Run(input);
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "line one\nline two");
}

TEST_F(ShellExecutorTest, LargeStdinLargerThanThePipeIsDeliveredWhole) {
  std::string data;
  for (int i = 0; data.size() < 600 * 1024; ++i) absl::StrAppend(&data, i, "\n");
  boost::json::value input = Argv({"/usr/bin/wc", "-c"});
  input.as_object()["stdin"] = data;
  const ExecutionOutcome outcome = Run(input);
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), absl::StrCat(data.size(), "\n"));
}

TEST_F(ShellExecutorTest, WithoutStdinTheProgramReadsDevNull) {
  const ExecutionOutcome outcome = Run(Argv({"/bin/cat"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "");
}

TEST_F(ShellExecutorTest, StdinTheProgramNeverReadsDoesNotHurtTheDaemon) {
  boost::json::value input = Argv({"/bin/true"});
  input.as_object()["stdin"] = std::string(1 << 20, 'x');
  const ExecutionOutcome outcome = Run(input);
  EXPECT_TRUE(outcome.success) << outcome.error;
}

TEST_F(ShellExecutorTest, CwdIsHonoured) {
  char dir_template[] = "/tmp/shell_executor_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  boost::json::value input = Argv({"/bin/pwd"});
  input.as_object()["cwd"] = dir_template;
  const ExecutionOutcome outcome = Run(input);
  rmdir(dir_template);
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), absl::StrCat(dir_template, "\n"));
}

TEST_F(ShellExecutorTest, MissingCwdFailsWithoutRetry) {
  boost::json::value input = Argv({"/bin/pwd"});
  input.as_object()["cwd"] = "/nonexistent/shell-test";
  const ExecutionOutcome outcome = Run(input);
  EXPECT_FALSE(outcome.success);
  EXPECT_TRUE(outcome.non_retryable);
  EXPECT_EQ(outcome.error,
            "shell: cannot change directory to '/nonexistent/shell-test': No such file or "
            "directory");
}

TEST_F(ShellExecutorTest, NoDescriptorOfTheDaemonIsInherited) {
  // /proc/self/fd as the program sees it: 0-2 and the directory `ls` itself opened.
  const ExecutionOutcome outcome = Run(Argv({"/bin/ls", "/proc/self/fd"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "0\n1\n2\n3\n");
}

TEST_F(ShellExecutorTest, ResourceLimitsApplyToTheProgram) {
  ShellOptions options;
  options.limits.open_files = 37;
  MakeExecutor(options);
  const ExecutionOutcome outcome = Run(Argv({"/bin/sh", "-c", "ulimit -n"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "37\n");
}

// --- Output ------------------------------------------------------------------------------------

TEST_F(ShellExecutorTest, OutputBeyondTheLimitIsTruncatedAndFlaggedWhileTheProgramFinishes) {
  ShellOptions options;
  options.output_limit = 1000;
  MakeExecutor(options);
  const ExecutionOutcome outcome = Run(Argv({"/usr/bin/seq", "1", "200000"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  std::string expected;
  for (int i = 1; expected.size() < 1000; ++i) absl::StrAppend(&expected, i, "\n");
  expected.resize(1000);
  EXPECT_EQ(Str(outcome.output, "stdout"), expected);
  EXPECT_TRUE(outcome.output.at("stdout_truncated").as_bool());
  EXPECT_FALSE(outcome.output.at("stderr_truncated").as_bool());
}

TEST_F(ShellExecutorTest, InvalidUtf8OutputIsReplaced) {
  const ExecutionOutcome outcome = Run(Argv({"/usr/bin/printf", "\\377\\376ok \\303\\251"}));
  ASSERT_TRUE(outcome.success) << outcome.error;
  EXPECT_EQ(Str(outcome.output, "stdout"), "\xEF\xBF\xBD\xEF\xBF\xBDok \xC3\xA9");
}

// --- Failures ----------------------------------------------------------------------------------

TEST_F(ShellExecutorTest, NonZeroExitFailsWithTheTailOfStderrAndKeepsTheOutput) {
  const ExecutionOutcome outcome =
      Run(Argv({"/bin/sh", "-c", "echo out; echo 'bad thing happened' >&2; exit 3"}));
  EXPECT_FALSE(outcome.success);
  EXPECT_FALSE(outcome.non_retryable);
  EXPECT_EQ(outcome.error, "shell: exited with code 3: bad thing happened");
  EXPECT_EQ(outcome.output.at("exit_code").as_int64(), 3);
  EXPECT_EQ(Str(outcome.output, "stdout"), "out\n");
  EXPECT_EQ(Str(outcome.output, "stderr"), "bad thing happened\n");
}

TEST_F(ShellExecutorTest, ErrorCarriesOnlyTheLast500BytesOfStderr) {
  const ExecutionOutcome outcome =
      Run(Argv({"/bin/sh", "-c", "printf '%2000s' '' | tr ' ' x >&2; echo END >&2; exit 1"}));
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error,
            absl::StrCat("shell: exited with code 1: ", std::string(496, 'x'), "END"));
}

TEST_F(ShellExecutorTest, ExitWithoutStderrHasNoColonTail) {
  const ExecutionOutcome outcome = Run(Argv({"/bin/false"}));
  EXPECT_EQ(outcome.error, "shell: exited with code 1");
}

TEST_F(ShellExecutorTest, DeathBySignalNamesTheSignal) {
  const ExecutionOutcome outcome = Run(Argv({"/bin/sh", "-c", "echo dying >&2; kill -KILL $$"}));
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.error, "shell: killed by signal 9 (SIGKILL): dying");
  EXPECT_TRUE(outcome.output.at("exit_code").is_null());
  EXPECT_EQ(outcome.output.at("signal").as_int64(), 9);
}

TEST_F(ShellExecutorTest, MissingProgramFailsWithoutRetry) {
  ExecutionOutcome outcome = Run(Argv({"no-such-program-batchd"}));
  EXPECT_FALSE(outcome.success);
  EXPECT_TRUE(outcome.non_retryable);
  EXPECT_EQ(outcome.error,
            "shell: cannot execute 'no-such-program-batchd': No such file or directory");
  outcome = Run(Argv({"/nonexistent/prog"}));
  EXPECT_EQ(outcome.error, "shell: cannot execute '/nonexistent/prog': No such file or directory");
  outcome = Run(Argv({"/etc/passwd"}));
  EXPECT_EQ(outcome.error, "shell: cannot execute '/etc/passwd': Permission denied");
  EXPECT_TRUE(outcome.non_retryable);
}

struct BadInputCase {
  std::string input_json;
  std::string error;
};

TEST_F(ShellExecutorTest, BadInputFailsWithoutRetryNamingTheField) {
  const std::vector<BadInputCase> cases = {
      {R"({"argv": "rm -rf /"})",
       "shell: input.argv must be an array of strings, not a string (no shell interpretation)"},
      {R"({})",
       "shell: input.argv is required: an array of strings, the program and its "
       "arguments"},
      {R"({"argv": []})", "shell: input.argv must not be empty: argv[0] names the program"},
      {R"({"argv": 7})", "shell: input.argv must be an array of strings"},
      {R"({"argv": ["echo", 1]})", "shell: input.argv[1] must be a string"},
      {R"({"argv": [""]})", "shell: input.argv[0] must name a program, not be empty"},
      {R"({"argv": ["echo", "a\u0000b"]})", "shell: input.argv[1] must not contain NUL"},
      {R"({"argv": ["env"], "env": {"A": 1}})", "shell: input.env.A must be a string"},
      {R"({"argv": ["env"], "env": ["A=1"]})", "shell: input.env must be an object of strings"},
      {R"({"argv": ["env"], "env": {"A=B": "1"}})",
       "shell: input.env[\"A=B\"] has an invalid name: it must be non-empty, without '=' or NUL"},
      {R"({"argv": ["pwd"], "cwd": 3})", "shell: input.cwd must be a string"},
      {R"({"argv": ["cat"], "stdin": {"x": 1}})", "shell: input.stdin must be a string"},
      {R"({"argv": ["cat"], "shell": true})",
       "shell: unknown field input.shell (known: argv, env, cwd, stdin)"},
      {R"("echo hi")",
       "shell: input must be an object {\"argv\": [program, args...], \"env\": {...}, "
       "\"cwd\": \"...\", \"stdin\": \"...\"}"},
  };
  for (const BadInputCase& c : cases) {
    const ExecutionOutcome outcome = Run(boost::json::parse(c.input_json));
    EXPECT_FALSE(outcome.success) << c.input_json;
    EXPECT_TRUE(outcome.non_retryable) << c.input_json;
    EXPECT_EQ(outcome.error, c.error) << c.input_json;
  }
  EXPECT_EQ(executor().tracked(), 0u);
}

// --- Cancel and cleanup ------------------------------------------------------------------------

TEST_F(ShellExecutorTest, CancelledSleepIsGoneBeforeTheGraceAndNotReported) {
  ShellOptions options;
  options.kill_grace = std::chrono::seconds(10);
  MakeExecutor(options);
  const AttemptToken token = Start(Argv({"/bin/sleep", "30"}));
  const std::optional<pid_t> pid = executor().PidOf(token);
  ASSERT_TRUE(pid.has_value());
  const absl::Time cancelled_at = absl::Now();
  Cancel(token);
  ASSERT_TRUE(Eventually([&] { return executor().tracked() == 0; }));
  // SIGTERM ended it: no need to wait for the SIGKILL after the grace.
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(8));
  EXPECT_EQ(kill(*pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(sink_.reports(), 0);
}

TEST_F(ShellExecutorTest, ProcessTreeThatIgnoresSigtermIsKilledAfterTheGrace) {
  ShellOptions options;
  options.kill_grace = std::chrono::milliseconds(200);
  MakeExecutor(options);
  const AttemptToken token =
      Start(Argv({"/bin/sh", "-c", "trap '' TERM; sleep 30 & sleep 30; wait"}));
  const std::optional<pid_t> pgid = executor().PidOf(token);
  ASSERT_TRUE(pgid.has_value());
  // sh and both sleeps, with SIGTERM ignored (inherited by the sleeps).
  ASSERT_TRUE(Eventually([&] { return LiveMembersOfGroup(*pgid) == 3; }));
  const absl::Time cancelled_at = absl::Now();
  Cancel(token);
  ASSERT_TRUE(Eventually([&] { return executor().tracked() == 0; }));
  EXPECT_GE(absl::Now() - cancelled_at, absl::Milliseconds(190));
  // SIGKILL is delivered; the orphaned sleep then waits only to be reaped by init.
  EXPECT_TRUE(Eventually([&] { return LiveMembersOfGroup(*pgid) == 0; }));
  EXPECT_TRUE(Eventually([&] { return kill(-*pgid, 0) == -1 && errno == ESRCH; }))
      << "process group " << *pgid << " still has members";
  EXPECT_EQ(sink_.reports(), 0);
}

TEST_F(ShellExecutorTest, BackgroundChildrenDieWithTheProgramAndDoNotHoldTheReport) {
  // The program names its own group ($$ is the leader, whose pid is the group id): the run can
  // be over before the test could ask the executor for the pid.
  const AttemptToken token = Start(Argv({"/bin/sh", "-c", "sleep 30 & echo \"started $$\""}));
  const std::optional<ExecutionOutcome> outcome = sink_.Await(token.task, kWait);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->success) << outcome->error;
  const std::string stdout_text = Str(outcome->output, "stdout");
  ASSERT_TRUE(absl::StartsWith(stdout_text, "started ")) << stdout_text;
  pid_t pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(stdout_text.substr(8)), &pgid))
      << stdout_text;
  EXPECT_EQ(stdout_text, absl::StrCat("started ", pgid, "\n"));
  EXPECT_TRUE(Eventually([&] { return LiveMembersOfGroup(pgid) == 0; }));
}

}  // namespace
}  // namespace batchd::core
