#include "server/observability/malloc_trimmer.h"

#include <dlfcn.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(absl::Duration, malloc_trim_interval, absl::Seconds(10),
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

MallocTrimmer::MallocTrimmer(absl::Duration interval)
    : interval_(interval),
      // Present when batchd links (or preloads) tcmalloc, which then serves every malloc:
      // glibc's malloc_trim has nothing left to trim, tcmalloc's free pages go back this way.
      release_tcmalloc_(
          reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"))) {
  if (interval_ <= absl::ZeroDuration()) return;
  BoundTcmallocThreadCaches();
  thread_ = std::thread([this] { Run(); });
}

void MallocTrimmer::BoundTcmallocThreadCaches() {
  // tcmalloc's per-thread caches (32 MiB in all by default) are not released by
  // ReleaseFreeMemory: with the default the soak test's idle daemon ended 11 % above its start.
  // 4 MiB brought it back within 8 %, and no-op throughput did not change (bench/README.md).
  using SetProperty = int (*)(const char*, size_t);
  const auto set =
      reinterpret_cast<SetProperty>(dlsym(RTLD_DEFAULT, "MallocExtension_SetNumericProperty"));
  if (set != nullptr) set("tcmalloc.max_total_thread_cache_bytes", size_t{4} << 20);
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
    if (release_tcmalloc_ != nullptr) release_tcmalloc_();
    mu_.Lock();
  }
}

}  // namespace batchd::server
