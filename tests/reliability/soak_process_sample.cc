#include "tests/reliability/soak_process_sample.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace batchd::soak {
namespace {

// The number in a "Name:   1234 kB" line of /proc/PID/status, or -1.
int64_t StatusField(const std::string& status, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, ":")) continue;
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t value = -1;
    if (!words.empty() && absl::SimpleAtoi(words[0], &value)) return value;
  }
  return -1;
}

int64_t CountFds(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/fd");
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return -1;
  int64_t count = 0;
  while (const dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

}  // namespace

ProcessSample SampleProcess(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  const std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ProcessSample s;
  s.rss_kib = StatusField(status, "VmRSS");
  s.anon_kib = StatusField(status, "RssAnon");
  s.threads = StatusField(status, "Threads");
  s.fds = CountFds(pid);
  return s;
}

std::string FormatSample(const ProcessSample& s) {
  return absl::StrCat("RSS ", s.rss_kib, " KiB (anonymous ", s.anon_kib, " KiB), ", s.fds, " fds, ",
                      s.threads, " threads");
}

ResourcePeakSampler::ResourcePeakSampler(pid_t pid, absl::Duration interval)
    : pid_(pid), interval_(interval) {}

ResourcePeakSampler::~ResourcePeakSampler() { Stop(); }

void ResourcePeakSampler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

ProcessSample ResourcePeakSampler::peak() const {
  absl::MutexLock lock(&mu_);
  return peak_;
}

void ResourcePeakSampler::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.Unlock();
    const ProcessSample s = SampleProcess(pid_);
    mu_.Lock();
    peak_.rss_kib = std::max(peak_.rss_kib, s.rss_kib);
    peak_.anon_kib = std::max(peak_.anon_kib, s.anon_kib);
    peak_.fds = std::max(peak_.fds, s.fds);
    peak_.threads = std::max(peak_.threads, s.threads);
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_);
  }
}

}  // namespace batchd::soak
