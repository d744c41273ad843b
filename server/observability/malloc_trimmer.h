// Hands memory malloc keeps after frees back to the system: a thread calling malloc_trim(0)
// (with tcmalloc in the process: its ReleaseFreeMemory, and its thread caches bounded) every
// --malloc-trim-interval, so an idle daemon's RSS returns to its baseline once retention has
// freed finished batches. Construct and destroy on one thread; the trimming runs on its own.
#pragma once

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace batchd::server {

// --malloc-trim-interval; INVALID_ARGUMENT when negative or infinite. Zero turns trimming off.
absl::StatusOr<absl::Duration> MallocTrimIntervalFromFlags();

class MallocTrimmer {
 public:
  // No thread when `interval` is zero.
  explicit MallocTrimmer(absl::Duration interval);
  MallocTrimmer(const MallocTrimmer&) = delete;
  MallocTrimmer& operator=(const MallocTrimmer&) = delete;
  ~MallocTrimmer();

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  static void BoundTcmallocThreadCaches();

  const absl::Duration interval_;
  void (*const release_tcmalloc_)();  // MallocExtension_ReleaseFreeMemory; null without tcmalloc
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace batchd::server
