#include "core/process/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"

namespace batchd::core {
namespace {

constexpr char kDefaultPath[] = "/usr/bin:/bin";

// What the child reports, through memory shared with the parent until execve (vfork), when it
// cannot get as far as running the program.
enum class ChildStage : int { kNone = 0, kSetup, kChdir, kRlimit, kExec };
struct ChildFailure {
  ChildStage stage = ChildStage::kNone;
  int error = 0;
  int detail = 0;  // index into ChildPlan::limits for kRlimit
};

struct RlimitSetting {
  __rlimit_resource_t resource = RLIMIT_CPU;
  const char* name = "";
  rlim_t soft = 0;
  rlim_t hard = 0;
  uint64_t requested = 0;
};

// Everything the child touches, prepared before vfork: between vfork and execve the child may
// only make async-signal-safe calls and must not allocate or write the parent's memory other
// than `failure`.
struct ChildPlan {
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* const* programs = nullptr;  // execve candidates, in PATH order
  size_t program_count = 0;
  const char* cwd = nullptr;
  int stdin_fd = -1;  // -1: /dev/null
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::array<RlimitSetting, 3> limits;
  size_t limit_count = 0;
  int max_fd = 0;  // for the close_range fallback
  volatile ChildFailure* failure = nullptr;
};

[[noreturn]] void FailInChild(const ChildPlan& plan, ChildStage stage, int error, int detail = 0) {
  plan.failure->error = error;
  plan.failure->detail = detail;
  plan.failure->stage = stage;
  _exit(127);
}

// Runs in the vfork child. Async-signal-safe calls only.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  // Handlers are reset by execve, but ignored signals would be inherited (gRPC daemons often
  // ignore SIGPIPE): the program starts with every disposition at its default.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &default_action, nullptr);
  }
  // Its own group, so a timeout can signal the program and everything it started at once.
  if (setpgid(0, 0) != 0) FailInChild(plan, ChildStage::kSetup, errno);
  int stdin_fd = plan.stdin_fd;
  if (stdin_fd < 0) stdin_fd = open("/dev/null", O_RDONLY);
  if (stdin_fd < 0) FailInChild(plan, ChildStage::kSetup, errno);
  if (dup2(stdin_fd, 0) < 0 || dup2(plan.stdout_fd, 1) < 0 || dup2(plan.stderr_fd, 2) < 0) {
    FailInChild(plan, ChildStage::kSetup, errno);
  }
  if (plan.cwd != nullptr && chdir(plan.cwd) != 0) FailInChild(plan, ChildStage::kChdir, errno);
  for (size_t i = 0; i < plan.limit_count; ++i) {
    const rlimit limit{plan.limits[i].soft, plan.limits[i].hard};
    if (setrlimit(plan.limits[i].resource, &limit) != 0) {
      FailInChild(plan, ChildStage::kRlimit, errno, static_cast<int>(i));
    }
  }
  // Marked close-on-exec rather than closed so `failure` reporting stays possible until execve;
  // the daemon's sockets, pipes of other tasks and journal never reach the program.
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < plan.max_fd; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // execvp's rules, minus its fallback of running a file without a #! line through /bin/sh.
  int error = ENOENT;
  bool denied = false;
  for (size_t i = 0; i < plan.program_count; ++i) {
    execve(plan.programs[i], plan.argv, plan.envp);
    error = errno;
    if (error == EACCES) {
      denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV &&
               error != ETIMEDOUT) {
      break;
    }
  }
  if (denied && (error == ENOENT || error == ENOTDIR)) error = EACCES;
  FailInChild(plan, ChildStage::kExec, error);
}

// Kept out of line so only `plan` lives across the vfork (no -Wclobbered surprises).
[[gnu::noinline]] pid_t VforkAndRun(const ChildPlan& plan) {
  const pid_t pid = vfork();
  if (pid == 0) RunChild(plan);
  return pid;
}

std::string ErrorText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::vector<char*> CStringArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> ProgramCandidates(const std::string& program,
                                           const std::vector<std::string>& env) {
  if (absl::StrContains(program, '/')) return {program};
  absl::string_view path = kDefaultPath;
  for (const std::string& entry : env) {
    if (absl::StartsWith(entry, "PATH=")) {
      path = absl::string_view(entry).substr(5);
      break;
    }
  }
  std::vector<std::string> out;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    // An empty PATH element means the working directory, as for execvp.
    out.push_back(dir.empty() ? program : absl::StrCat(dir, "/", program));
  }
  return out;
}

// Moves `fd` to a number >= 3 so the child's dup2 onto 0-2 never overwrites another of its
// descriptors (the daemon may run with 0-2 closed).
absl::Status AboveStdio(int& fd) {
  if (fd >= 3) return absl::OkStatus();
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  const int error = errno;
  ::close(fd);
  fd = moved;
  if (moved < 0) return absl::UnavailableError(absl::StrCat("fcntl: ", ErrorText(error)));
  return absl::OkStatus();
}

// The pipes and socket of one child: [0] the parent's end, [1] the child's.
struct ChildStreams {
  std::array<UniqueFd, 2> in;
  std::array<UniqueFd, 2> out;
  std::array<UniqueFd, 2> err;
};

absl::Status OpenStreams(bool pipe_stdin, ChildStreams& streams) {
  const auto make_pipe = [](std::array<UniqueFd, 2>& ends) -> absl::Status {
    std::array<int, 2> fds{};
    if (pipe2(fds.data(), O_CLOEXEC) != 0) {
      return absl::UnavailableError(absl::StrCat("pipe: ", ErrorText(errno)));
    }
    // pipe2 gives {read, write}; the parent reads.
    ends[0].Reset(fds[0]);
    ends[1].Reset(fds[1]);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(make_pipe(streams.out));
  RETURN_IF_ERROR(make_pipe(streams.err));
  if (pipe_stdin) {
    // A socket rather than a pipe: the daemon writes it with send(MSG_NOSIGNAL), so a program
    // that exits without reading its input cannot kill the daemon with SIGPIPE.
    std::array<int, 2> fds{};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
      return absl::UnavailableError(absl::StrCat("socketpair: ", ErrorText(errno)));
    }
    streams.in[0].Reset(fds[0]);
    streams.in[1].Reset(fds[1]);
    shutdown(fds[0], SHUT_RD);
    shutdown(fds[1], SHUT_WR);
  }
  for (UniqueFd* fd : {&streams.in[0], &streams.in[1], &streams.out[0], &streams.out[1],
                       &streams.err[0], &streams.err[1]}) {
    if (!fd->valid()) continue;
    int raw = fd->Release();
    absl::Status s = AboveStdio(raw);
    fd->Reset(raw);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

size_t PrepareLimits(const ResourceLimits& limits, std::array<RlimitSetting, 3>& out) {
  size_t count = 0;
  const auto add = [&](__rlimit_resource_t resource, const char* name, uint64_t value,
                       rlim_t hard_extra) {
    if (value == 0) return;
    rlimit current{};
    getrlimit(resource, &current);
    RlimitSetting& setting = out[count++];
    setting.resource = resource;
    setting.name = name;
    setting.requested = value;
    setting.soft = static_cast<rlim_t>(value);
    // For CPU time the hard limit a second later turns the catchable SIGXCPU into SIGKILL for a
    // program that ignores it; never above the daemon's own hard limit (that would fail).
    setting.hard = setting.soft + hard_extra;
    if (current.rlim_max != RLIM_INFINITY && setting.hard > current.rlim_max) {
      setting.hard = std::max(setting.soft, current.rlim_max);
    }
  };
  add(RLIMIT_CPU, "RLIMIT_CPU", limits.cpu_seconds, 1);
  add(RLIMIT_AS, "RLIMIT_AS", limits.address_space_bytes, 0);
  add(RLIMIT_NOFILE, "RLIMIT_NOFILE", limits.open_files, 0);
  return count;
}

void WaitForExit(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

absl::Status ChildFailureStatus(const ChildSpec& spec, const ChildPlan& plan,
                                const ChildFailure& failure) {
  const std::string reason = ErrorText(failure.error);
  switch (failure.stage) {
    case ChildStage::kExec: {
      std::string message = absl::StrCat("cannot execute '", spec.argv[0], "': ", reason);
      if (failure.error == EAGAIN || failure.error == ENOMEM) {
        return absl::UnavailableError(message);
      }
      return absl::FailedPreconditionError(message);
    }
    case ChildStage::kChdir:
      return absl::FailedPreconditionError(
          absl::StrCat("cannot change directory to '", spec.cwd, "': ", reason));
    case ChildStage::kRlimit: {
      const RlimitSetting& limit = plan.limits[failure.detail];
      return absl::FailedPreconditionError(
          absl::StrCat("cannot set ", limit.name, " to ", limit.requested, ": ", reason));
    }
    case ChildStage::kSetup:
    case ChildStage::kNone:
      break;
  }
  return absl::InternalError(absl::StrCat("cannot set up the child process: ", reason));
}

}  // namespace

absl::StatusOr<SpawnedChild> SpawnChild(const ChildSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return absl::InvalidArgumentError("argv must name a program");
  }
  ChildStreams streams;
  RETURN_IF_ERROR(OpenStreams(spec.pipe_stdin, streams));

  const std::vector<char*> argv = CStringArray(spec.argv);
  const std::vector<char*> envp = CStringArray(spec.env);
  const std::vector<std::string> programs = ProgramCandidates(spec.argv[0], spec.env);
  std::vector<const char*> program_ptrs;
  program_ptrs.reserve(programs.size());
  for (const std::string& p : programs) program_ptrs.push_back(p.c_str());

  volatile ChildFailure failure;
  ChildPlan plan;
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.programs = program_ptrs.data();
  plan.program_count = program_ptrs.size();
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.stdin_fd = streams.in[1].get();
  plan.stdout_fd = streams.out[1].get();
  plan.stderr_fd = streams.err[1].get();
  plan.limit_count = PrepareLimits(spec.limits, plan.limits);
  const long open_max = sysconf(_SC_OPEN_MAX);
  plan.max_fd = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
  plan.failure = &failure;

  // All signals stay blocked from vfork until the child has reset their dispositions: no
  // daemon signal handler may run on the memory the child shares with us.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = VforkAndRun(plan);
  const int vfork_error = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  // The child's ends now live only in the child.
  streams.in[1].Reset();
  streams.out[1].Reset();
  streams.err[1].Reset();
  if (pid < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot start '", spec.argv[0], "': ", ErrorText(vfork_error)));
  }
  // vfork returned: the child has called execve successfully or given up and _exit'ed.
  const ChildFailure seen{failure.stage, failure.error, failure.detail};
  if (seen.stage != ChildStage::kNone) {
    WaitForExit(pid);
    return ChildFailureStatus(spec, plan, seen);
  }
  // Through syscall(): Debian 12's <sys/pidfd.h> lacks extern "C", so C++ cannot link it.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int error = errno;
    kill(-pid, SIGKILL);
    WaitForExit(pid);
    return absl::UnavailableError(
        absl::StrCat("cannot watch '", spec.argv[0], "': pidfd_open: ", ErrorText(error)));
  }
  SpawnedChild child;
  child.pid = pid;
  child.pidfd.Reset(pidfd);
  int raw = child.pidfd.Release();
  absl::Status moved = AboveStdio(raw);
  child.pidfd.Reset(raw);
  if (!moved.ok()) {
    kill(-pid, SIGKILL);
    WaitForExit(pid);
    return moved;
  }
  child.stdin_fd = std::move(streams.in[0]);
  child.stdout_fd = std::move(streams.out[0]);
  child.stderr_fd = std::move(streams.err[0]);
  return child;
}

std::string SignalName(int signal_number) {
  const char* abbreviation = sigabbrev_np(signal_number);
  if (abbreviation == nullptr) return absl::StrCat("signal ", signal_number);
  return absl::StrCat("SIG", abbreviation);
}

}  // namespace batchd::core
