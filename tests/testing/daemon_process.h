// Runs programs under test as child processes, with every wait bounded: the real batchd daemon
// (DaemonProcess) and one-shot commands (RunCommand). Children get their own process group and
// are killed with it when their owner is destroyed. Not thread-safe: use from one test thread.
#pragma once

#include <grpcpp/channel.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "batchd/v1/worker_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace batchd::testing {

// A child process (stdin /dev/null) whose stdout and stderr a background thread collects.
class ChildProcess {
 public:
  // argv[0] is looked up in PATH when it has no '/'. The child gets this process's environment
  // plus `extra_env` ("NAME=value" entries, which win over inherited ones).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills the process group if still running, reaps the child, stops the reader.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  absl::Status Signal(int signal_number);
  // The exit code, or 128 + the signal number when a signal ended it; DEADLINE_EXCEEDED when it
  // still runs after `timeout`. Once it has exited, also waits (within `timeout`) for the rest
  // of its output.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);
  // The first complete stdout line starting with `prefix` (without the newline). NOT_FOUND when
  // stdout ends without one, DEADLINE_EXCEEDED when `timeout` passes first.
  absl::StatusOr<std::string> WaitForStdoutLine(absl::string_view prefix, absl::Duration timeout);
  // The first complete stdout line `matches` accepts; `description` ("starting with 'x'") names
  // it in the errors.
  absl::StatusOr<std::string> WaitForStdoutLine(absl::FunctionRef<bool(absl::string_view)> matches,
                                                absl::string_view description,
                                                absl::Duration timeout);

  std::string Stdout() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string Stderr() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ChildProcess(pid_t pid, int stdout_fd, int stderr_fd, int wake_read_fd, int wake_write_fd);
  void ReadOutput();  // the reader thread

  const pid_t pid_;
  const int stdout_fd_;
  const int stderr_fd_;
  const int wake_read_fd_;  // the destructor writes to wake_write_fd_ to stop the reader
  const int wake_write_fd_;
  bool reaped_ = false;
  int exit_code_ = -1;

  mutable absl::Mutex mu_;
  std::string stdout_ ABSL_GUARDED_BY(mu_);
  std::string stderr_ ABSL_GUARDED_BY(mu_);
  bool stdout_eof_ ABSL_GUARDED_BY(mu_) = false;
  bool stderr_eof_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal number when a signal ended it
  std::string stdout_text;
  std::string stderr_text;
};

// Runs `argv` to completion. DEADLINE_EXCEEDED (with the output so far) when it takes longer
// than `timeout`; the command is then killed.
// `extra_env` as for ChildProcess::Spawn.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const std::vector<std::string>& extra_env = {});

// A new empty directory under $TMPDIR (else /tmp) named <prefix>-XXXXXX.
absl::StatusOr<std::string> MakeTempDir(absl::string_view prefix);
// Removes `path` and everything under it; no effect when empty or missing.
void RemoveTree(const std::string& path);

// The real batchd binary, started on --listen=127.0.0.1:0 (unless `flags` choose another
// address) and ready once it has printed "batchd listening on <address>" (with
// --log-format=json: the JSON line whose "listener" is "grpc"). Unless `flags` set
// --data-dir or --durability, it journals into a fresh temporary directory removed with it.
// `extra_env` as for ChildProcess::Spawn (e.g. {"HTTPS_PROXY=http://127.0.0.1:3128"}).
class DaemonProcess {
 public:
  static constexpr absl::Duration kDefaultReadyTimeout = absl::Seconds(20);

  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::vector<std::string>& flags = {},
      absl::Duration ready_timeout = kDefaultReadyTimeout,
      const std::vector<std::string>& extra_env = {});
  // Path of the batchd binary the tests run.
  static std::string BinaryPath();

  // What the daemon printed: host:port with the port it bound, or unix:/path.
  const std::string& address() const { return address_; }
  pid_t pid() const { return process_->pid(); }
  std::shared_ptr<grpc::Channel> NewChannel() const;
  std::unique_ptr<v1::BatchService::Stub> NewBatchStub() const;
  std::unique_ptr<v1::WorkerService::Stub> NewWorkerStub() const;
  std::unique_ptr<grpc::health::v1::Health::Stub> NewHealthStub() const;

  absl::Status SendSignal(int signal_number) { return process_->Signal(signal_number); }
  absl::StatusOr<int> WaitForExit(absl::Duration timeout) { return process_->WaitForExit(timeout); }
  std::string Stdout() const { return process_->Stdout(); }
  std::string Stderr() const { return process_->Stderr(); }

 private:
  DaemonProcess(std::unique_ptr<ChildProcess> process, std::string address,
                std::string owned_data_dir)
      : process_(std::move(process)),
        address_(std::move(address)),
        owned_data_dir_(std::move(owned_data_dir)) {}

 public:
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

 private:
  std::unique_ptr<ChildProcess> process_;  // killed on destruction
  std::string address_;
  std::string owned_data_dir_;  // removed on destruction; empty when the test chose one
};

}  // namespace batchd::testing
