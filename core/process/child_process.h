// Starts a program as a child process the way batchd's shell executor needs it: argv exec'd
// directly (never through a shell), an explicit environment, its own process group, no
// inherited descriptors beyond 0-2, optional resource limits, and a pidfd to learn of its exit
// without a thread. SpawnChild is thread-safe; it blocks its caller only until the child has
// called execve (vfork), like posix_spawn.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/process/unique_fd.h"

namespace batchd::core {

// 0 leaves a limit as the daemon has it.
struct ResourceLimits {
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  uint64_t open_files = 0;           // RLIMIT_NOFILE
};

struct ChildSpec {
  // argv[0] containing '/' is run as is; otherwise it is looked up like execvp does, in the
  // PATH of `env` (the child's environment, not the daemon's), "/usr/bin:/bin" when unset.
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value" entries: the child's whole environment
  std::string cwd;               // empty: the daemon's working directory
  bool pipe_stdin = false;       // true: SpawnedChild::stdin_fd; false: /dev/null
  ResourceLimits limits;
};

struct SpawnedChild {
  pid_t pid = -1;      // also the child's process group id
  UniqueFd pidfd;      // readable once the child has exited (pidfd_open)
  UniqueFd stdin_fd;   // write end of a socketpair (MSG_NOSIGNAL-capable: no SIGPIPE)
  UniqueFd stdout_fd;  // read end of a pipe
  UniqueFd stderr_fd;  // read end of a pipe
};

// The started child. When the child could not get as far as running the program the child has
// already been reaped and the error names what failed: FAILED_PRECONDITION for the task's own
// problems ("cannot execute 'foo': No such file or directory", "cannot change directory to
// '/x': ...", "cannot set RLIMIT_AS to 1: ..."), UNAVAILABLE when the daemon is out of
// processes or descriptors (worth retrying later). All descriptors are O_CLOEXEC and >= 3.
absl::StatusOr<SpawnedChild> SpawnChild(const ChildSpec& spec);

// "SIGKILL" for 9; "signal 70" style text for numbers without a name.
std::string SignalName(int signal_number);

}  // namespace batchd::core
