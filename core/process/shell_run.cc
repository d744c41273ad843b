#include "core/process/shell_run.h"

#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <utility>

namespace batchd::core {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

}  // namespace

ShellRun::ShellRun(boost::asio::io_context& io, SpawnedChild child,
                   std::optional<std::string> stdin_data, ShellRunOptions options,
                   Finished finished)
    : strand_(boost::asio::make_strand(io)),
      pid_(child.pid),
      options_(options),
      pidfd_(strand_, child.pidfd.Release()),
      stdin_(strand_),
      stdin_data_(stdin_data.has_value() ? *std::move(stdin_data) : std::string()),
      out_(strand_, child.stdout_fd.Release()),
      err_(strand_, child.stderr_fd.Release()),
      timer_(strand_),
      finished_(std::move(finished)) {
  if (child.stdin_fd.valid()) {
    stdin_.assign(boost::asio::local::stream_protocol(), child.stdin_fd.Release());
  }
}

ShellRun::~ShellRun() {
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void ShellRun::Begin() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->WaitForExit();
    self->Read(self->out_);
    self->Read(self->err_);
    if (!self->stdin_.is_open()) return;
    boost::asio::async_write(self->stdin_, boost::asio::buffer(self->stdin_data_),
                             [self](const boost::system::error_code&, size_t) {
                               // Done or failed (the program exited without reading): either way
                               // the program sees end of input once the socket is closed.
                               boost::system::error_code ignored;
                               self->stdin_.close(ignored);
                             });
  });
}

void ShellRun::Cancel() {
  boost::asio::post(strand_, [self = shared_from_this()] { self->CancelOnStrand(); });
}

void ShellRun::Read(Capture& capture) {
  if (capture.buffer == nullptr) capture.buffer = std::make_unique<char[]>(kReadChunk);
  capture.reading = true;
  capture.pipe.async_read_some(
      boost::asio::buffer(capture.buffer.get(), kReadChunk),
      [self = shared_from_this(), &capture](const boost::system::error_code& error, size_t bytes) {
        self->OnRead(capture, error, bytes);
      });
}

void ShellRun::OnRead(Capture& capture, const boost::system::error_code& error, size_t bytes) {
  const char* data = capture.buffer.get();
  const size_t room = options_.output_limit - capture.text.size();
  if (bytes > room) capture.truncated = true;
  capture.text.append(data, std::min(bytes, room));
  // Past the limit the pipe is still drained, so the program never blocks writing.
  capture.tail.append(data, bytes);
  if (capture.tail.size() > kTailBytes) capture.tail.erase(0, capture.tail.size() - kTailBytes);
  if (&capture == &out_ && options_.stdout_lines) {
    EmitLines(capture, std::string_view(data, bytes), error || done_);
  }
  if (!error && !done_) {
    Read(capture);
    return;
  }
  capture.reading = false;
  boost::system::error_code ignored;
  capture.pipe.close(ignored);
  MaybeFinish();
}

void ShellRun::EmitLines(Capture& capture, std::string_view data, bool at_end) {
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      capture.line.append(data);
      break;
    }
    capture.line.append(data.substr(0, newline + 1));
    data.remove_prefix(newline + 1);
    options_.stdout_lines(capture.line);
    capture.line.clear();
  }
  if (at_end && !capture.line.empty()) {
    options_.stdout_lines(capture.line);
    capture.line.clear();
  }
}

void ShellRun::WaitForExit() {
  pidfd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [self = shared_from_this()](const boost::system::error_code& error) {
                      self->OnExitReadable(error);
                    });
}

void ShellRun::OnExitReadable(const boost::system::error_code& error) {
  if (error == boost::asio::error::operation_aborted) return;
  // Peek first: while the exited leader is unreaped, its pid (= the group id) cannot be reused,
  // so signalling the group here can never reach a stranger.
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid != pid_) {
    WaitForExit();  // not exited after all (spurious wake-up)
    return;
  }
  if (!cancelled_) {
    // The task is over when its program is: whatever it left running in its group goes too.
    KillGroup(SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  wait_status_ = status;
  boost::system::error_code ignored;
  pidfd_.close(ignored);
  if (cancelled_) {
    if (!group_killed_ && ::kill(-pid_, 0) != 0 && errno == ESRCH) group_empty_ = true;
  } else {
    // Output still buffered in the pipes arrives at once; a descendant that escaped the group
    // (setsid) and holds them open only delays the report by the grace.
    timer_.expires_after(options_.kill_grace);
    timer_.async_wait(
        [self = shared_from_this()](const boost::system::error_code& e) { self->OnTimer(e); });
  }
  MaybeFinish();
}

void ShellRun::CancelOnStrand() {
  if (done_ || cancelled_) return;
  cancelled_ = true;
  boost::system::error_code ignored;
  stdin_.close(ignored);
  if (reaped_) {
    // The group was killed at exit; only the pipes were still draining.
    CloseStreams();
    MaybeFinish();
    return;
  }
  KillGroup(SIGTERM);
  timer_.expires_after(options_.kill_grace);
  timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& e) { self->OnTimer(e); });
}

void ShellRun::OnTimer(const boost::system::error_code& error) {
  if (error || done_) return;
  if (cancelled_ && !group_empty_) KillGroup(SIGKILL);
  CloseStreams();
  MaybeFinish();
}

void ShellRun::KillGroup(int signal_number) {
  ::kill(-pid_, signal_number);
  if (signal_number == SIGKILL) group_killed_ = true;
}

void ShellRun::CloseStreams() {
  boost::system::error_code ignored;
  out_.pipe.close(ignored);  // a pending read completes with operation_aborted
  err_.pipe.close(ignored);
}

void ShellRun::MaybeFinish() {
  if (done_ || !reaped_ || out_.reading || err_.reading) return;
  if (cancelled_ && !group_killed_ && !group_empty_) return;
  done_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  stdin_.close(ignored);
  ShellRunResult result;
  result.cancelled = cancelled_;
  result.wait_status = wait_status_;
  result.stdout_text = std::move(out_.text);
  result.stderr_text = std::move(err_.text);
  result.stderr_tail = std::move(err_.tail);
  result.stdout_truncated = out_.truncated;
  result.stderr_truncated = err_.truncated;
  Finished finished = std::move(finished_);
  finished(std::move(result));
}

}  // namespace batchd::core
