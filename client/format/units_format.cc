#include "client/format/units_format.h"

#include <cstdint>

#include "absl/strings/str_format.h"

namespace batchd::client {

std::string FormatMillis(double ms) {
  if (ms < 1000.0) return absl::StrFormat("%.1f ms", ms);
  return absl::StrFormat("%.2f s", ms / 1000.0);
}

std::string FormatEta(absl::Duration remaining) {
  if (remaining < absl::ZeroDuration()) remaining = absl::ZeroDuration();
  if (remaining < absl::Minutes(1))
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(remaining));
  const int64_t seconds = absl::ToInt64Seconds(remaining);
  if (remaining < absl::Hours(1)) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds / 60) % 60);
}

std::string FormatRate(double tasks_per_second) {
  if (tasks_per_second < 10.0) return absl::StrFormat("%.1f tasks/s", tasks_per_second);
  return absl::StrFormat("%.0f tasks/s", tasks_per_second);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(timestamp.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatPercent(double part, double whole) {
  if (whole <= 0.0) return "-";
  return absl::StrFormat("%.1f%%", 100.0 * part / whole);
}

}  // namespace batchd::client
