// The TaskHandler of `batchctl worker`: runs one command per assignment as a child process in
// its own process group, the assignment as JSON on its stdin, its stdout as the output.
// Thread-safe; children finish on the handler's own io thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "client/worker/worker_session.h"
#include "core/process/shell_run.h"

namespace batchd::client {

struct ProcessTaskOptions {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in the PATH of `env`
  std::vector<std::string> env;   // "NAME=value": the children's whole environment
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM on cancel, SIGKILL this much later
  // Stdout beyond this fails the task (an output that large would not fit a message anyway);
  // stderr beyond it is dropped.
  size_t output_limit = size_t{1} << 20;
};

class ProcessTaskHandler final : public TaskHandler {
 public:
  explicit ProcessTaskHandler(ProcessTaskOptions options);
  ProcessTaskHandler(const ProcessTaskHandler&) = delete;
  ProcessTaskHandler& operator=(const ProcessTaskHandler&) = delete;
  // Cancels what still runs and waits (about kill_grace) for it to end; never leaves children.
  ~ProcessTaskHandler() override;

  void Start(const v1::TaskAssignment& assignment, Reply reply) override {
    StartWithOutput(assignment, std::move(reply), nullptr);
  }
  // The command's stdout lines are the assignment's partial output as they come (and its whole
  // stdout, at the end, its output as before).
  void StartWithOutput(const v1::TaskAssignment& assignment, Reply reply, Output output) override;
  void Cancel(const std::string& assignment_id) override;

  size_t running() const;

 private:
  // Shared with the runs' completion callbacks, which may outlive the handler on the io thread.
  struct RunTable {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<core::ShellRun>> runs ABSL_GUARDED_BY(mu);
  };

  const ProcessTaskOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::shared_ptr<RunTable> table_ = std::make_shared<RunTable>();
  std::thread thread_;
};

// The stdin of a child: the assignment in proto JSON with snake_case names and zero values
// printed (assignment_id, task_id, input, attempt, dependency_outputs, ...).
std::string AssignmentJson(const v1::TaskAssignment& assignment);

// A finished child's outcome: exit 0 succeeds with stdout as output (parsed when it is JSON,
// else the text minus one trailing newline); anything else fails with "exit code N: <end of
// stderr>". Stdout over `output_limit` fails non-retryably.
v1::TaskOutcome ProcessOutcome(const core::ShellRunResult& result, size_t output_limit);

}  // namespace batchd::client
