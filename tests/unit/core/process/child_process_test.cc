// SpawnChild with real programs: what the child starts with (its own group, 0-2 and nothing
// else, default signal handling, the given environment and limits), how argv[0] is found, and
// which stage a failure names. Every wait is bounded by poll(); nothing sleeps.
#include "core/process/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::MatchesRegex;

constexpr int kWaitMs = 30000;  // generous: a busy 2-core machine

// Everything `fd` yields until end of file; nullopt when it stays silent for kWaitMs.
std::optional<std::string> ReadAll(const UniqueFd& fd) {
  std::string out;
  char buffer[4096];
  while (true) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, kWaitMs) != 1) return std::nullopt;
    const ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

// The child's wait status once it has exited (reaped here); nullopt when it is still running
// after kWaitMs (then it is killed and reaped).
std::optional<int> AwaitExit(const SpawnedChild& child) {
  pollfd p{child.pidfd.get(), POLLIN, 0};
  const bool exited = poll(&p, 1, kWaitMs) == 1;
  if (!exited) kill(-child.pid, SIGKILL);
  int status = 0;
  while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!exited) return std::nullopt;
  return status;
}

struct Finished {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `spec` to its end, draining stdout and stderr.
Finished RunToEnd(const ChildSpec& spec) {
  absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return {};
  Finished finished;
  // Small outputs: both fit in their pipes, so reading one after the other cannot deadlock.
  finished.out = ReadAll(child->stdout_fd).value_or("(stdout stayed open)");
  finished.err = ReadAll(child->stderr_fd).value_or("(stderr stayed open)");
  finished.status = AwaitExit(*child).value_or(-1);
  return finished;
}

ChildSpec Spec(std::vector<std::string> argv, std::vector<std::string> env = {}) {
  ChildSpec spec;
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  return spec;
}

// A directory of the test's own, removed with what the test put in it.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/child_process_test.XXXXXX";
    path_ = mkdtemp(name) != nullptr ? name : "";
  }
  ~TempDir() {
    for (const std::string& file : files_) unlink(file.c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Writes `name` with `text` and `mode`; returns its path.
  std::string Add(const std::string& name, const std::string& text, mode_t mode) {
    const std::string file = absl::StrCat(path_, "/", name);
    std::ofstream(file) << text;
    chmod(file.c_str(), mode);
    files_.push_back(file);
    return file;
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

bool NoChildLeft() { return waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

// --- What the child starts with ----------------------------------------------------------------

TEST(SpawnChildTest, ProgramGetsExactlyItsArgvAndEnvironment) {
  const Finished env = RunToEnd(Spec({"/usr/bin/env"}, {"A=1", "B=two words", "EMPTY="}));
  EXPECT_EQ(env.status, 0);
  EXPECT_EQ(env.out, "A=1\nB=two words\nEMPTY=\n");
  const Finished args =
      RunToEnd(Spec({"/bin/sh", "-c", "printf '[%s]' \"$0\" \"$@\"", "zero", "a b", ""}));
  EXPECT_EQ(args.out, "[zero][a b][]");
}

TEST(SpawnChildTest, StdoutAndStderrArePipesOfTheirOwn) {
  const Finished finished = RunToEnd(Spec({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"}));
  EXPECT_TRUE(WIFEXITED(finished.status));
  EXPECT_EQ(WEXITSTATUS(finished.status), 4);
  EXPECT_EQ(finished.out, "out\n");
  EXPECT_EQ(finished.err, "err\n");
}

TEST(SpawnChildTest, ChildLeadsItsOwnProcessGroupInTheDaemonsSession) {
  absl::StatusOr<SpawnedChild> child = SpawnChild(Spec({"/bin/sleep", "30"}));
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(getpgid(child->pid), child->pid);
  EXPECT_EQ(getsid(child->pid), getsid(0));
  kill(-child->pid, SIGKILL);
  const std::optional<int> status = AwaitExit(*child);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST(SpawnChildTest, WithoutPipeStdinTheChildReadsDevNull) {
  ChildSpec spec = Spec({"/usr/bin/readlink", "/proc/self/fd/0"});
  absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_FALSE(child->stdin_fd.valid());
  EXPECT_EQ(ReadAll(child->stdout_fd), "/dev/null\n");
  EXPECT_EQ(AwaitExit(*child), 0);
}

TEST(SpawnChildTest, PipedStdinIsASocketWhoseWritesNeverRaiseSigpipe) {
  ChildSpec spec = Spec({"/bin/sh", "-c", "readlink /proc/self/fd/0; cat"});
  spec.pipe_stdin = true;
  absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->stdin_fd.valid());
  ASSERT_EQ(send(child->stdin_fd.get(), "fed", 3, MSG_NOSIGNAL), 3);
  child->stdin_fd.Reset();  // end of input
  const std::optional<std::string> out = ReadAll(child->stdout_fd);
  ASSERT_TRUE(out.has_value());
  EXPECT_THAT(*out, MatchesRegex("socket:\\[[0-9]+\\]\nfed"));
  EXPECT_EQ(AwaitExit(*child), 0);

  // A program that exits without reading: the write fails with EPIPE instead of a signal.
  spec.argv = {"/bin/true"};
  child = SpawnChild(spec);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(AwaitExit(*child), 0);
  EXPECT_EQ(send(child->stdin_fd.get(), "late", 4, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST(SpawnChildTest, DescriptorsTheDaemonLeftInheritableStayWithTheDaemon) {
  const int leaked = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  const Finished finished = RunToEnd(Spec({"/bin/ls", "/proc/self/fd"}));
  close(leaked);
  // 0-2 and the directory ls itself opened.
  EXPECT_EQ(finished.out, "0\n1\n2\n3\n");
}

TEST(SpawnChildTest, EveryDescriptorReturnedIsCloseOnExecAndAboveStdioEvenWithStdinClosed) {
  // A daemon started with fd 0 closed: the first descriptor it opens would be 0.
  const int saved_stdin = fcntl(0, F_DUPFD_CLOEXEC, 3);
  ASSERT_GE(saved_stdin, 3);
  close(0);
  ChildSpec spec = Spec({"/bin/cat"});
  spec.pipe_stdin = true;
  absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  dup2(saved_stdin, 0);
  close(saved_stdin);
  ASSERT_TRUE(child.ok()) << child.status();
  for (const UniqueFd* fd :
       {&child->pidfd, &child->stdin_fd, &child->stdout_fd, &child->stderr_fd}) {
    EXPECT_GE(fd->get(), 3);
    EXPECT_EQ(fcntl(fd->get(), F_GETFD), FD_CLOEXEC) << "fd " << fd->get();
  }
  child->stdin_fd.Reset();
  EXPECT_EQ(ReadAll(child->stdout_fd), "");
  EXPECT_EQ(AwaitExit(*child), 0);
}

TEST(SpawnChildTest, SignalsStartWithDefaultHandlingAndUnblocked) {
  // What a gRPC daemon typically has: SIGPIPE ignored, and signals blocked in its threads.
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &previous), 0);
  sigset_t blocked;
  sigset_t previous_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &blocked, &previous_mask);
  const Finished finished =
      RunToEnd(Spec({"/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"}));
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  sigaction(SIGPIPE, &previous, nullptr);
  EXPECT_EQ(finished.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(SpawnChildTest, ResourceLimitsAreSetWithAHardCpuLimitOneSecondLater) {
  ChildSpec spec =
      Spec({"/bin/grep", "-E", "^Max (cpu time|address space|open files)", "/proc/self/limits"});
  spec.limits.cpu_seconds = 5;
  spec.limits.address_space_bytes = uint64_t{1} << 30;
  spec.limits.open_files = 40;
  const Finished finished = RunToEnd(spec);
  EXPECT_THAT(finished.out, MatchesRegex("Max cpu time +5 +6 +seconds *\n"
                                         "Max open files +40 +40 +files *\n"
                                         "Max address space +1073741824 +1073741824 +bytes *\n"));
}

// --- Finding the program -----------------------------------------------------------------------

TEST(SpawnChildTest, ProgramIsSearchedInTheChildsPathPastEntriesItMayNotRun) {
  TempDir first;
  TempDir second;
  first.Add("batchd-probe", "#!/bin/sh\necho first\n", 0644);  // not executable
  second.Add("batchd-probe", "#!/bin/sh\necho second\n", 0755);
  const Finished finished = RunToEnd(Spec(
      {"batchd-probe"}, {absl::StrCat("PATH=/nonexistent:", first.path(), ":", second.path())}));
  EXPECT_EQ(finished.status, 0);
  EXPECT_EQ(finished.out, "second\n");
}

TEST(SpawnChildTest, ProgramFoundOnlyWhereItMayNotRunIsPermissionDenied) {
  TempDir dir;
  dir.Add("batchd-probe", "#!/bin/sh\necho never\n", 0644);
  const absl::StatusOr<SpawnedChild> child =
      SpawnChild(Spec({"batchd-probe"}, {absl::StrCat("PATH=/nonexistent:", dir.path())}));
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(child.status().message(), "cannot execute 'batchd-probe': Permission denied");
  EXPECT_TRUE(NoChildLeft());
}

TEST(SpawnChildTest, ExecutableWithoutInterpreterLineIsNotHandedToAShell) {
  TempDir dir;
  const std::string script = dir.Add("no-shebang", "echo ran by a shell\n", 0755);
  const absl::StatusOr<SpawnedChild> child = SpawnChild(Spec({script}));
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(child.status().message(),
            absl::StrCat("cannot execute '", script, "': Exec format error"));
  EXPECT_TRUE(NoChildLeft());
}

// --- Failures name their stage -----------------------------------------------------------------

TEST(SpawnChildTest, EmptyArgvIsInvalidArgument) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{}, std::vector<std::string>{"", "x"}}) {
    const absl::StatusOr<SpawnedChild> child = SpawnChild(Spec(argv));
    EXPECT_EQ(child.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(child.status().message(), "argv must name a program");
  }
}

TEST(SpawnChildTest, WorkingDirectoryThatIsAFileFailsAtChdir) {
  TempDir dir;
  ChildSpec spec = Spec({"/bin/pwd"});
  spec.cwd = dir.Add("plain-file", "", 0644);
  const absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(child.status().message(),
            absl::StrCat("cannot change directory to '", spec.cwd, "': Not a directory"));
  EXPECT_TRUE(NoChildLeft());
}

TEST(SpawnChildTest, LimitTheKernelRefusesFailsNamingTheLimit) {
  // Above fs.nr_open (at most 2^30 on Linux): refused even to root.
  ChildSpec spec = Spec({"/bin/true"});
  spec.limits.open_files = uint64_t{1} << 31;
  const absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(child.status().message(),
            "cannot set RLIMIT_NOFILE to 2147483648: Operation not permitted");
  EXPECT_TRUE(NoChildLeft());
}

TEST(SpawnChildTest, DirectoryAsProgramIsPermissionDenied) {
  const absl::StatusOr<SpawnedChild> child = SpawnChild(Spec({"/tmp"}));
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(child.status().message(), "cannot execute '/tmp': Permission denied");
  EXPECT_TRUE(NoChildLeft());
}

TEST(SignalNameTest, NamesKnownSignalsAndNumbersOthers) {
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGXCPU), "SIGXCPU");
  EXPECT_EQ(SignalName(70), "signal 70");
}

}  // namespace
}  // namespace batchd::core
