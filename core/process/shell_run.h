// One running program of the shell executor, from spawn to reaped: feeds its stdin, captures
// stdout/stderr up to a limit, learns of its exit through a pidfd (no thread per child), and on
// Cancel stops its whole process group (SIGTERM, then SIGKILL after the grace). Thread-safe:
// every piece of state lives on the run's own strand; Begin and Cancel may be called anywhere.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "core/process/child_process.h"

namespace batchd::core {

struct ShellRunOptions {
  std::chrono::milliseconds kill_grace{2000};
  size_t output_limit = size_t{1} << 20;  // bytes kept of stdout and of stderr, each
  // When set, called on the run's strand with each line of stdout as it comes (its '\n'
  // included; the last one may have none), every byte of it, past output_limit too.
  std::function<void(std::string_view line)> stdout_lines{};
};

// What the program did. Output is raw bytes (not yet valid UTF-8).
struct ShellRunResult {
  bool cancelled = false;  // then nothing else is meaningful
  int wait_status = 0;     // as from waitpid
  std::string stdout_text;
  std::string stderr_text;
  std::string stderr_tail;  // the last bytes the program wrote to stderr, even past the limit
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

class ShellRun : public std::enable_shared_from_this<ShellRun> {
 public:
  static constexpr size_t kTailBytes = 512;
  using Finished = absl::AnyInvocable<void(ShellRunResult)>;

  // `finished` runs once, on the run's strand, after the child is reaped, its output drained
  // and, when cancelled, its group killed (or found empty).
  ShellRun(boost::asio::io_context& io, SpawnedChild child, std::optional<std::string> stdin_data,
           ShellRunOptions options, Finished finished);
  ShellRun(const ShellRun&) = delete;
  ShellRun& operator=(const ShellRun&) = delete;
  // Kills the group and reaps the child if it still runs (daemon shutdown): never a zombie.
  ~ShellRun();

  void Begin();
  // SIGTERM to the group now, SIGKILL to the group after the grace, even if the program itself
  // exited before (children it left behind may ignore SIGTERM).
  void Cancel();
  pid_t pid() const { return pid_; }

 private:
  struct Capture {
    explicit Capture(boost::asio::strand<boost::asio::io_context::executor_type>& strand, int fd)
        : pipe(strand, fd) {}
    boost::asio::posix::stream_descriptor pipe;
    std::unique_ptr<char[]> buffer;
    std::string text;
    std::string tail;
    std::string line;  // stdout's line so far, for ShellRunOptions::stdout_lines
    bool truncated = false;
    bool reading = false;
  };
  void EmitLines(Capture& capture, std::string_view data, bool at_end);

  void Read(Capture& capture);
  void OnRead(Capture& capture, const boost::system::error_code& error, size_t bytes);
  void WaitForExit();
  void OnExitReadable(const boost::system::error_code& error);
  void CancelOnStrand();
  void OnTimer(const boost::system::error_code& error);
  void KillGroup(int signal_number);
  void CloseStreams();
  void MaybeFinish();

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const pid_t pid_;
  const ShellRunOptions options_;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::local::stream_protocol::socket stdin_;
  std::string stdin_data_;
  Capture out_;
  Capture err_;
  boost::asio::steady_timer timer_;  // the kill grace, or the drain limit after a normal exit
  Finished finished_;

  bool reaped_ = false;
  int wait_status_ = 0;
  bool cancelled_ = false;
  bool group_killed_ = false;  // SIGKILL sent to the group
  bool group_empty_ = false;   // no member left when the leader was reaped
  bool done_ = false;
};

}  // namespace batchd::core
