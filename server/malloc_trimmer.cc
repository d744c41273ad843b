#include "server/malloc_trimmer.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "server/dashed_flag.h"

BATCHD_DASHED_FLAG(absl::Duration, malloc_trim_interval, "malloc-trim-interval", absl::Seconds(10),
                   "How often memory freed inside malloc's arenas is returned to the system "
                   "(malloc_trim), so RSS falls back after finished batches are freed; 0 = never");

namespace batchd::server {

absl::StatusOr<absl::Duration> MallocTrimIntervalFromFlags() {
  const absl::Duration interval = absl::GetFlag(FLAGS_malloc_trim_interval);
  if (interval < absl::ZeroDuration() || interval == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --malloc-trim-interval ",
                                                   absl::FormatDuration(interval),
                                                   ": must be a finite, non-negative duration"));
  }
  return interval;
}

MallocTrimmer::MallocTrimmer(absl::Duration interval) : interval_(interval) {
  if (interval_ > absl::ZeroDuration()) thread_ = std::thread([this] { Run(); });
}

MallocTrimmer::~MallocTrimmer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void MallocTrimmer::Run() {
  absl::MutexLock lock(&mu_);
  const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_)) {
    mu_.Unlock();
    // Walks every arena once; each is locked only while it is trimmed.
    const bool released = malloc_trim(0) != 0;
    spdlog::debug("malloc_trim: {}", released ? "memory released" : "nothing to release");
    mu_.Lock();
  }
}

}  // namespace batchd::server
