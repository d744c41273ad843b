// The `shell` executor: runs a program given as an argv array (exec'd directly, never through
// a shell) with an allowlisted environment, and reports its exit code and captured output.
// Start/Cancel run on the scheduler's strand and never block beyond vfork+execve; each running
// program is driven on its own strand (core/process/shell_run.h). Destroy only after the
// io_context's threads have stopped (the daemon's order), so no program's report can outlive the
// sink.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/process/child_process.h"
#include "core/process/shell_run.h"

namespace batchd::core {

struct ShellOptions {
  // Variables copied from the daemon's environment; every other one is withheld.
  std::vector<std::string> env_allowlist = {"PATH", "HOME", "LANG"};
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM → SIGKILL on timeout or cancel
  size_t output_limit = size_t{1} << 20;       // bytes kept of stdout and of stderr, each
  ResourceLimits limits;
};

// Input {"argv": [...], "env": {...}, "cwd": "...", "stdin": "..."}
// (core/executors/shell/shell_input.h). Output {"exit_code", "stdout", "stderr",
// "stdout_truncated", "stderr_truncated"}, plus "signal" (and a null exit_code) when a signal ended
// the program; output is valid UTF-8 (invalid bytes become U+FFFD). A non-zero exit or a signal is
// a (retryable) failure that still carries the output; a program that cannot be executed is a
// non-retryable one.
class ShellExecutor final : public Executor {
 public:
  // Reads the allowlisted variables from the daemon's environment now, once.
  ShellExecutor(boost::asio::io_context& io, ShellOptions options);
  ~ShellExecutor() override = default;

  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken& token) override;

  // Thread-safe. The pid (= process group id) of an attempt's program while it is tracked.
  std::optional<pid_t> PidOf(const AttemptToken& token) const;
  // Thread-safe. Attempts still tracked: running, or cancelled and waiting for their group.
  size_t tracked() const;

 private:
  // Shared (weakly) with the runs' completion callbacks, which remove their own entry. Once the
  // executor is gone, runs live only in their pending handlers; destroying those (the
  // io_context's destruction) kills and reaps what still runs (ShellRun's destructor).
  struct RunTable {
    mutable absl::Mutex mu;
    absl::flat_hash_map<AttemptToken, std::shared_ptr<ShellRun>> runs ABSL_GUARDED_BY(mu);
  };

  std::vector<std::string> ChildEnvironment(
      const std::vector<std::pair<std::string, std::string>>& task_env) const;

  boost::asio::io_context& io_;
  const ShellOptions options_;
  std::vector<std::string> inherited_env_;  // "NAME=value", allowlisted, in allowlist order
  std::shared_ptr<RunTable> table_ = std::make_shared<RunTable>();
};

// The outcome a finished (not cancelled) run reports.
ExecutionOutcome ShellOutcome(const ShellRunResult& result);

// Registers "shell" (kind "builtin").
absl::Status RegisterShellExecutor(ExecutorRegistry& registry, boost::asio::io_context& io,
                                   ShellOptions options);

}  // namespace batchd::core
