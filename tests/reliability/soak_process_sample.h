// Resource figures of another process read from /proc (resident memory, open descriptors,
// threads), and a background sampler that keeps the peak while a load runs. The free function
// is stateless; ResourcePeakSampler is thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace batchd::soak {

struct ProcessSample {
  int64_t rss_kib = -1;   // VmRSS from /proc/PID/status; -1 when unreadable
  int64_t anon_kib = -1;  // RssAnon: the heap part of it, without mapped files
  int64_t fds = -1;       // entries of /proc/PID/fd
  int64_t threads = -1;   // Threads from /proc/PID/status
};

ProcessSample SampleProcess(pid_t pid);
std::string FormatSample(const ProcessSample& s);

// Samples `pid` every `interval` from construction until Stop (or destruction).
class ResourcePeakSampler {
 public:
  ResourcePeakSampler(pid_t pid, absl::Duration interval);
  ResourcePeakSampler(const ResourcePeakSampler&) = delete;
  ResourcePeakSampler& operator=(const ResourcePeakSampler&) = delete;
  ~ResourcePeakSampler();

  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // The highest value seen of each figure (independently).
  ProcessSample peak() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const pid_t pid_;
  const absl::Duration interval_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  ProcessSample peak_ ABSL_GUARDED_BY(mu_);
  std::thread thread_{[this] { Run(); }};  // last: starts once the rest is constructed
};

}  // namespace batchd::soak
