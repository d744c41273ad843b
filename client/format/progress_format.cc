#include "client/format/progress_format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/format/state_names.h"
#include "client/format/units_format.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

std::string Bar(uint32_t done, uint32_t total, int width) {
  const auto cells = static_cast<size_t>(std::max(width, 1));
  const size_t filled = total == 0 ? 0 : static_cast<size_t>(cells * uint64_t{done} / total);
  return absl::StrCat("[", std::string(filled, '#'), std::string(cells - filled, '.'), "]");
}

std::string EtaField(const v1::BatchProgress& progress, uint32_t done, double rate) {
  if (IsFinal(progress.state())) return BatchStateName(progress.state());
  if (progress.estimated_remaining_ms() > 0) {
    return absl::StrCat("ETA ", FormatEta(absl::Milliseconds(progress.estimated_remaining_ms())));
  }
  if (rate <= 0.0) return "ETA --";
  const double remaining_tasks = progress.total_tasks() - done;
  return absl::StrCat("ETA ", FormatEta(absl::Seconds(remaining_tasks / rate)));
}

std::string AlignedLines(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t key_width = 0;
  for (const auto& [key, value] : fields) key_width = std::max(key_width, key.size());
  std::string out;
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, key, ":", std::string(key_width - key.size() + 1, ' '), value, "\n");
  }
  return out;
}

}  // namespace

std::string RenderProgressBar(const v1::BatchProgress& progress, int width,
                              absl::Duration elapsed) {
  const uint32_t total = progress.total_tasks();
  const uint32_t done = std::min(progress.completed_tasks(), total);
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0.0 ? done / seconds : 0.0;
  std::string line = absl::StrCat(Bar(done, total, width), "  ", done, "/", total, "  ",
                                  FormatPercent(done, total), "  ", FormatRate(rate), "  ",
                                  EtaField(progress, done, rate));
  if (progress.failed_tasks() > 0) absl::StrAppend(&line, "  ", progress.failed_tasks(), " failed");
  return line;
}

std::string FormatProgressLine(const v1::BatchProgress& progress) {
  return absl::StrFormat("%s %d/%d (%s) succeeded %d failed %d running %d pending %d",
                         BatchStateName(progress.state()), progress.completed_tasks(),
                         progress.total_tasks(),
                         FormatPercent(progress.completed_tasks(), progress.total_tasks()),
                         progress.successful_tasks(), progress.failed_tasks(),
                         progress.running_tasks(), progress.pending_tasks());
}

std::string FormatProgressDetails(const v1::BatchProgress& progress) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"batch", progress.batch_id()},
      {"state", BatchStateName(progress.state())},
      {"total", absl::StrCat(progress.total_tasks())},
      {"completed", absl::StrCat(progress.completed_tasks())},
      {"successful", absl::StrCat(progress.successful_tasks())},
      {"failed", absl::StrCat(progress.failed_tasks())},
      {"running", absl::StrCat(progress.running_tasks())},
      {"pending", absl::StrCat(progress.pending_tasks())},
      {"progress", absl::StrFormat("%.1f%%", progress.progress_percentage())},
      {"eta", progress.estimated_remaining_ms() > 0
                  ? FormatEta(absl::Milliseconds(progress.estimated_remaining_ms()))
                  : "-"},
      {"created", FormatTimestamp(progress.created_at())},
  };
  // Only while tasks wait for shared limits, after "pending": which key holds them and why.
  if (progress.throttled_tasks() > 0) {
    std::vector<std::pair<std::string, std::string>> throttled = {
        {"throttled", absl::StrCat(progress.throttled_tasks())}};
    for (const v1::LimitWait& wait : progress.limit_waits()) {
      throttled.emplace_back(absl::StrCat("limit ", wait.key()),
                             absl::StrCat(wait.tasks(), " ", wait.reason()));
    }
    constexpr ptrdiff_t kAfterPending = 8;
    fields.insert(fields.begin() + kAfterPending, throttled.begin(), throttled.end());
  }
  // Tasks waiting for CompleteTask (executor "external"): what `batchctl complete` needs.
  if (progress.awaiting_completion_tasks() > 0) {
    fields.emplace_back("awaiting", absl::StrCat(progress.awaiting_completion_tasks(),
                                                 " completion (batchctl complete)"));
    for (const v1::AwaitingCompletion& a : progress.awaiting_completion()) {
      fields.emplace_back(absl::StrCat("awaiting ", a.task_id()),
                          absl::StrCat("token ", a.token(), " since ", FormatTimestamp(a.since())));
    }
  }
  // The proto map's iteration order is unspecified; sort for stable output.
  const std::map<std::string, std::string> labels(progress.labels().begin(),
                                                  progress.labels().end());
  for (const auto& [key, value] : labels) fields.emplace_back(absl::StrCat("label ", key), value);
  return AlignedLines(fields);
}

}  // namespace batchd::client
