#include "core/executors/shell/shell_executor.h"

#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/executors/shell/shell_input.h"
#include "core/process/valid_utf8.h"

namespace batchd::core {
namespace {

constexpr size_t kErrorTailBytes = 500;

// ": <the end of stderr>" for error messages, or nothing when stderr was empty.
std::string StderrSuffix(const ShellRunResult& result) {
  const std::string tail = ToValidUtf8(result.stderr_tail);
  absl::string_view text = absl::StripAsciiWhitespace(Utf8Tail(tail, kErrorTailBytes));
  if (text.empty()) return "";
  return absl::StrCat(": ", text);
}

}  // namespace

ShellExecutor::ShellExecutor(boost::asio::io_context& io, ShellOptions options)
    : io_(io), options_(std::move(options)) {
  for (const std::string& name : options_.env_allowlist) {
    if (const char* value = std::getenv(name.c_str())) {
      inherited_env_.push_back(absl::StrCat(name, "=", value));
    }
  }
}

std::vector<std::string> ShellExecutor::ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& task_env) const {
  std::vector<std::string> env = inherited_env_;
  for (const auto& [name, value] : task_env) {
    const std::string prefix = absl::StrCat(name, "=");
    std::erase_if(env, [&](const std::string& entry) { return absl::StartsWith(entry, prefix); });
    env.push_back(absl::StrCat(prefix, value));
  }
  return env;
}

void ShellExecutor::Start(const ExecutionRequest& request, CompletionSink& sink) {
  absl::StatusOr<ShellInput> input = ParseShellInput(request.input);
  if (!input.ok()) {
    sink.Complete(request.token, ExecutionOutcome::Failure(std::string(input.status().message()),
                                                           /*non_retryable=*/true));
    return;
  }
  ChildSpec spec;
  spec.env = ChildEnvironment(input->env);
  spec.argv = std::move(input->argv);
  spec.cwd = std::move(input->cwd);
  spec.pipe_stdin = input->stdin_data.has_value();
  spec.limits = options_.limits;
  absl::StatusOr<SpawnedChild> child = SpawnChild(spec);
  if (!child.ok()) {
    // Out of processes or descriptors may pass; a missing program or directory will not.
    const bool retryable = absl::IsUnavailable(child.status());
    sink.Complete(request.token,
                  ExecutionOutcome::Failure(absl::StrCat("shell: ", child.status().message()),
                                            /*non_retryable=*/!retryable));
    return;
  }
  const AttemptToken token = request.token;
  // Weak: the table owns the run, so a strong reference here would keep both alive forever once
  // the executor is gone, and the program would outlive the daemon's shutdown.
  auto finished = [weak_table = std::weak_ptr<RunTable>(table_), token,
                   &sink](const ShellRunResult& result) {
    if (std::shared_ptr<RunTable> table = weak_table.lock()) {
      absl::MutexLock lock(&table->mu);
      table->runs.erase(token);
    }
    if (!result.cancelled) sink.Complete(token, ShellOutcome(result));
  };
  // Its stdout lines are the task's partial output (StreamTaskOutput) as they come.
  ShellRunOptions run_options{
      options_.kill_grace, options_.output_limit,
      [&sink, token](std::string_view line) { sink.Output(token, std::string(line)); }};
  auto run = std::make_shared<ShellRun>(io_, *std::move(child), std::move(input->stdin_data),
                                        std::move(run_options), std::move(finished));
  {
    absl::MutexLock lock(&table_->mu);
    table_->runs[token] = run;
  }
  run->Begin();
}

void ShellExecutor::Cancel(const AttemptToken& token) {
  std::shared_ptr<ShellRun> run;
  {
    absl::MutexLock lock(&table_->mu);
    auto it = table_->runs.find(token);
    if (it == table_->runs.end()) return;
    run = it->second;
  }
  run->Cancel();
}

std::optional<pid_t> ShellExecutor::PidOf(const AttemptToken& token) const {
  absl::MutexLock lock(&table_->mu);
  auto it = table_->runs.find(token);
  if (it == table_->runs.end()) return std::nullopt;
  return it->second->pid();
}

size_t ShellExecutor::tracked() const {
  absl::MutexLock lock(&table_->mu);
  return table_->runs.size();
}

ExecutionOutcome ShellOutcome(const ShellRunResult& result) {
  boost::json::object output;
  const int status = result.wait_status;
  if (WIFEXITED(status)) {
    output["exit_code"] = WEXITSTATUS(status);
  } else {
    output["exit_code"] = nullptr;
    output["signal"] = WTERMSIG(status);
  }
  output["stdout"] = ToValidUtf8(result.stdout_text);
  output["stderr"] = ToValidUtf8(result.stderr_text);
  output["stdout_truncated"] = result.stdout_truncated;
  output["stderr_truncated"] = result.stderr_truncated;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return ExecutionOutcome::Success(std::move(output));
  }
  std::string error = WIFEXITED(status)
                          ? absl::StrCat("shell: exited with code ", WEXITSTATUS(status))
                          : absl::StrCat("shell: killed by signal ", WTERMSIG(status), " (",
                                         SignalName(WTERMSIG(status)), ")");
  ExecutionOutcome outcome = ExecutionOutcome::Failure(error + StderrSuffix(result));
  outcome.output = std::move(output);
  return outcome;
}

absl::Status RegisterShellExecutor(ExecutorRegistry& registry, boost::asio::io_context& io,
                                   ShellOptions options) {
  return registry.Register({"shell", "builtin", 0, 0},
                           std::make_unique<ShellExecutor>(io, std::move(options)));
}

}  // namespace batchd::core
