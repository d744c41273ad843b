#include "client/cpp/stop_signal_watcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <utility>

namespace batchd::client {
namespace {

constexpr char kSignalled = 's';
constexpr char kQuit = 'q';

// The one piece of global state a signal handler cannot do without: where to write. Only
// async-signal-safe calls happen in the handler.
std::atomic<int> signal_write_fd{-1};

void OnStopSignal(int /*signal_number*/) {
  const int saved_errno = errno;
  const int fd = signal_write_fd.load();
  if (fd >= 0) {
    const ssize_t written = write(fd, &kSignalled, 1);
    static_cast<void>(written);  // a full pipe already holds a wake-up
  }
  errno = saved_errno;
}

void SetDisposition(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

StopSignalWatcher::StopSignalWatcher(std::function<void()> on_signal)
    : on_signal_(std::move(on_signal)) {
  std::array<int, 2> fds{};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) return;  // no watcher: the signals keep their defaults
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  fcntl(write_fd_, F_SETFL, O_NONBLOCK);
  signal_write_fd.store(write_fd_);
  SetDisposition(OnStopSignal);
  thread_ = std::thread([this] { Watch(); });
}

StopSignalWatcher::~StopSignalWatcher() {
  if (read_fd_ < 0) return;
  SetDisposition(SIG_DFL);
  signal_write_fd.store(-1);
  const ssize_t written = write(write_fd_, &kQuit, 1);
  static_cast<void>(written);
  thread_.join();
  close(read_fd_);
  close(write_fd_);
}

void StopSignalWatcher::Watch() {
  for (;;) {
    char byte = 0;
    const ssize_t n = read(read_fd_, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == kQuit) return;
    on_signal_();
  }
}

}  // namespace batchd::client
