// Turns SIGINT and SIGTERM into a call on a thread of its own, so long-running commands (a
// worker) can stop cleanly instead of dying mid-write. Signal dispositions are process-wide:
// at most one watcher may exist at a time. Construct and destroy on the same thread.
#pragma once

#include <functional>
#include <thread>

namespace batchd::client {

class StopSignalWatcher {
 public:
  // `on_signal` runs on the watcher's thread, once per signal received (it must tolerate
  // repeats). Installs the handlers.
  explicit StopSignalWatcher(std::function<void()> on_signal);
  StopSignalWatcher(const StopSignalWatcher&) = delete;
  StopSignalWatcher& operator=(const StopSignalWatcher&) = delete;
  // Restores the default dispositions and joins the thread.
  ~StopSignalWatcher();

 private:
  void Watch();

  std::function<void()> on_signal_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::thread thread_;
};

}  // namespace batchd::client
