// ShellRun's own contract, with real processes and the io_context run by the test thread (so
// the test decides what happens between two handlers): one report per run, output limits and
// the stderr tail, the group killed when the program exits, the drain bounded by the grace,
// cancel as SIGTERM then SIGKILL after the grace, and no zombie when a run is dropped.
// The test process is a child subreaper, so it can reap (and read the fate of) what a program
// leaves behind. Waits are bounded; the only timing claims are lower bounds or "well before a
// grace of minutes". What the shell executor builds on top is in shell_executor_test.cc.
#include "core/process/shell_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);  // generous: a busy 2-core machine
constexpr std::chrono::minutes kNeverGrace{10};      // a grace no test waits out
constexpr std::chrono::milliseconds kShortGrace{300};
// Starts a sleep that leaves the program's group (setsid) holding its stdout and stderr, waits
// until it has left (so the group kill at exit cannot catch it) and prints its pid.
constexpr char kEscapedSleep[] =
    "setsid sleep 120 & until [ \"$(cut -d' ' -f5 /proc/$!/stat)\" = $! ]; do :; done; echo $!";

// Waits (bounded) for process `pid`, a child of this process by birth or as its subreaper, to
// end and reaps it: its wait status, or nullopt if it is still running after kWait.
std::optional<int> AwaitExitOf(pid_t pid) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return std::nullopt;
  pollfd p{pidfd, POLLIN, 0};
  const bool ended = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kWait))) == 1;
  close(pidfd);
  if (!ended) return std::nullopt;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return std::nullopt;
  return status;
}

bool Gone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

// The pid a program printed as the first line of its output.
pid_t FirstLinePid(const std::string& text) {
  pid_t pid = 0;
  EXPECT_TRUE(absl::SimpleAtoi(text.substr(0, text.find('\n')), &pid)) << text;
  return pid;
}

class ShellRunTest : public ::testing::Test {
 protected:
  ShellRunTest() : work_(boost::asio::make_work_guard(io_)) {
    EXPECT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }
  ~ShellRunTest() override {
    for (pid_t pid : strays_) kill(pid, SIGKILL);
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  std::shared_ptr<ShellRun> Start(std::vector<std::string> argv, ShellRunOptions options,
                                  std::optional<std::string> stdin_data = std::nullopt) {
    ChildSpec spec;
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.pipe_stdin = stdin_data.has_value();
    absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return nullptr;
    auto run = std::make_shared<ShellRun>(
        io_, *std::move(child), std::move(stdin_data), options,
        [this](ShellRunResult result) { results_.push_back(std::move(result)); });
    run->Begin();
    return run;
  }

  // Runs handlers on this thread until `condition` holds; false if it does not within `timeout`.
  template <typename F>
  bool RunUntil(F condition, absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!condition()) {
      if (absl::Now() > deadline) return false;
      io_.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  bool RunUntilReported() {
    return RunUntil([this] { return !results_.empty(); });
  }
  // Runs every handler that is ready now, so a second report would have been made.
  void RunReady() {
    while (io_.poll() > 0) {
    }
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<ShellRunResult> results_;
  std::vector<pid_t> strays_;  // killed at the end: descendants a test let escape its group
};

// --- A run to its end --------------------------------------------------------------------------

TEST_F(ShellRunTest, ExitIsReportedOnceWithItsStatusAndOutput) {
  const auto run =
      Start({"/bin/sh", "-c", "echo out; printf 'went wrong' >&2; exit 3"}, {kNeverGrace});
  ASSERT_TRUE(RunUntilReported());
  RunReady();
  ASSERT_EQ(results_.size(), 1u);
  const ShellRunResult& result = results_[0];
  EXPECT_FALSE(result.cancelled);
  EXPECT_TRUE(WIFEXITED(result.wait_status));
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 3);
  EXPECT_EQ(result.stdout_text, "out\n");
  EXPECT_EQ(result.stderr_text, "went wrong");
  EXPECT_EQ(result.stderr_tail, "went wrong");
  EXPECT_FALSE(result.stdout_truncated);
  EXPECT_FALSE(result.stderr_truncated);
  EXPECT_TRUE(Gone(run->pid())) << "reaped before the report";
}

TEST_F(ShellRunTest, OutputOfExactlyTheLimitIsWholeAndBeyondItTheTailKeepsTheEnd) {
  const ShellRunOptions options{kNeverGrace, 100};
  // stderr far beyond the pipe's capacity: the run keeps draining it past the limit.
  const auto run = Start({"/bin/sh", "-c", "printf '%100s' x; seq 1 30000 >&2"}, options);
  ASSERT_TRUE(RunUntilReported());
  std::string seq;
  for (int i = 1; i <= 30000; ++i) absl::StrAppend(&seq, i, "\n");
  const ShellRunResult& result = results_[0];
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 0);
  EXPECT_EQ(result.stdout_text, std::string(99, ' ') + "x");
  EXPECT_FALSE(result.stdout_truncated);
  EXPECT_EQ(result.stderr_text, seq.substr(0, 100));
  EXPECT_TRUE(result.stderr_truncated);
  EXPECT_EQ(result.stderr_tail, seq.substr(seq.size() - ShellRun::kTailBytes));
}

TEST_F(ShellRunTest, WhatTheProgramLeftInItsGroupIsKilledWhenItExits) {
  // The grace is never waited out: the group kill, not the drain limit, closes the pipes the
  // background sleep holds.
  const auto run = Start({"/bin/sh", "-c", "sleep 120 & echo $!"}, {kNeverGrace});
  ASSERT_TRUE(RunUntilReported());
  EXPECT_FALSE(results_[0].cancelled);
  EXPECT_EQ(WEXITSTATUS(results_[0].wait_status), 0);
  const pid_t sleeper = FirstLinePid(results_[0].stdout_text);
  const std::optional<int> status = AwaitExitOf(sleeper);
  ASSERT_TRUE(status.has_value()) << "background sleep " << sleeper << " survived";
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST_F(ShellRunTest, DescendantOutsideTheGroupHoldingThePipesDelaysTheReportByTheGrace) {
  const absl::Time begun = absl::Now();
  const auto run =
      Start({"/bin/sh", "-c", absl::StrCat(kEscapedSleep, "; echo exiting")}, {kShortGrace});
  ASSERT_TRUE(RunUntilReported());
  const absl::Duration elapsed = absl::Now() - begun;
  const ShellRunResult& result = results_[0];
  const pid_t escaped = FirstLinePid(result.stdout_text);
  strays_.push_back(escaped);
  EXPECT_GE(elapsed, absl::FromChrono(kShortGrace));
  EXPECT_FALSE(result.cancelled);
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 0);
  EXPECT_EQ(result.stdout_text, absl::StrCat(escaped, "\nexiting\n"));
  EXPECT_FALSE(Gone(escaped)) << "outside the group: not the run's to kill";
}

// --- Cancel ------------------------------------------------------------------------------------

TEST_F(ShellRunTest, CancelEndsTheProgramWithSigtermAndReportsOnce) {
  const auto run = Start({"/bin/sleep", "120"}, {kNeverGrace});
  run->Cancel();
  run->Cancel();
  ASSERT_TRUE(RunUntilReported());
  RunReady();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_TRUE(results_[0].cancelled);
  EXPECT_TRUE(WIFSIGNALED(results_[0].wait_status));
  EXPECT_EQ(WTERMSIG(results_[0].wait_status), SIGTERM);
}

TEST_F(ShellRunTest, MemberIgnoringSigtermIsKilledAfterTheGraceThoughTheProgramEnded) {
  char dir[] = "/tmp/shell_run_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = absl::StrCat(dir, "/ready");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const int ready = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(ready, 0);
  // The sleep starts with SIGTERM ignored; the shell, SIGTERM restored, says so and waits.
  const auto run = Start({"/bin/sh", "-c",
                          "trap '' TERM; sleep 120 & trap - TERM; "
                          "echo $! > \"$0\"; wait",
                          fifo},
                         {kShortGrace});
  pollfd p{ready, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kWait))), 1);
  char text[32] = {};
  ASSERT_GT(read(ready, text, sizeof text - 1), 0);
  close(ready);
  unlink(fifo.c_str());
  rmdir(dir);
  const pid_t sleeper = FirstLinePid(text);
  strays_.push_back(sleeper);

  const absl::Time cancelled_at = absl::Now();
  run->Cancel();
  ASSERT_TRUE(RunUntilReported());
  EXPECT_GE(absl::Now() - cancelled_at, absl::FromChrono(kShortGrace));
  EXPECT_TRUE(results_[0].cancelled);
  EXPECT_TRUE(WIFSIGNALED(results_[0].wait_status));
  EXPECT_EQ(WTERMSIG(results_[0].wait_status), SIGTERM) << "the shell itself obeyed SIGTERM";
  const std::optional<int> status = AwaitExitOf(sleeper);
  ASSERT_TRUE(status.has_value()) << "sleep " << sleeper << " survived the grace";
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST_F(ShellRunTest, CancelWhileOnlyDrainingReportsAtOnce) {
  const auto run = Start({"/bin/sh", "-c", kEscapedSleep}, {kNeverGrace});
  // The program ends at once; its escaped child keeps the pipes open, so the run drains.
  ASSERT_TRUE(RunUntil([&] { return Gone(run->pid()); })) << "never reaped";
  RunReady();
  EXPECT_TRUE(results_.empty()) << "reported before the grace without a cancel";
  run->Cancel();
  ASSERT_TRUE(RunUntilReported()) << "the cancel waited for the grace";
  EXPECT_TRUE(results_[0].cancelled);
  strays_.push_back(FirstLinePid(results_[0].stdout_text));
}

TEST_F(ShellRunTest, CancelAfterTheReportChangesNothing) {
  const auto run = Start({"/bin/true"}, {kNeverGrace});
  ASSERT_TRUE(RunUntilReported());
  run->Cancel();
  RunReady();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_FALSE(results_[0].cancelled);
}

// --- Dropped runs ------------------------------------------------------------------------------

TEST_F(ShellRunTest, RunDroppedBeforeItBeganKillsAndReapsTheProgram) {
  ChildSpec spec;
  spec.argv = {"/bin/sleep", "120"};
  absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pid = child->pid;
  auto run = std::make_shared<ShellRun>(io_, *std::move(child), std::nullopt, ShellRunOptions{},
                                        [](ShellRunResult) { ADD_FAILURE() << "reported"; });
  run.reset();
  EXPECT_TRUE(Gone(pid)) << "killed and reaped, not a zombie";
}

TEST_F(ShellRunTest, RunsPendingWhenTheirIoContextIsDestroyedLeaveNoZombie) {
  pid_t pid = -1;
  {
    boost::asio::io_context io;
    ChildSpec spec;
    spec.argv = {"/bin/sleep", "120"};
    absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
    ASSERT_TRUE(child.ok()) << child.status();
    pid = child->pid;
    auto run = std::make_shared<ShellRun>(io, *std::move(child), std::nullopt, ShellRunOptions{},
                                          [](ShellRunResult) { ADD_FAILURE() << "reported"; });
    run->Begin();
    io.poll();  // the waits are pending; only they hold the run now
  }
  EXPECT_TRUE(Gone(pid)) << "killed and reaped, not a zombie";
}

}  // namespace
}  // namespace batchd::core
