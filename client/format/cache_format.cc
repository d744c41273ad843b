#include "client/format/cache_format.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/format/units_format.h"

namespace batchd::client {
namespace {

// "512 B", "3.4 KiB", "256.0 MiB".
std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, units[unit]);
}

}  // namespace

std::string FormatCacheStats(const batchd::v1::CacheStats& stats) {
  const uint64_t lookups = stats.hits() + stats.misses();
  const std::vector<std::pair<const char*, std::string>> rows = {
      {"entries", absl::StrCat(stats.entries())},
      {"bytes",
       absl::StrCat(FormatBytes(stats.bytes()), " of ", FormatBytes(stats.max_bytes()), " (",
                    FormatPercent(static_cast<double>(stats.bytes()),
                                  static_cast<double>(stats.max_bytes())),
                    ")")},
      {"lookups",
       absl::StrCat(lookups, ": ", stats.hits(), " hits (",
                    FormatPercent(static_cast<double>(stats.hits()), static_cast<double>(lookups)),
                    "), ", stats.misses(), " misses")},
      {"single-flight joins", absl::StrCat(stats.single_flight_joins())},
      {"keys in flight", absl::StrCat(stats.flights())},
      {"stored", absl::StrCat(stats.stored())},
      {"too large", absl::StrCat(stats.too_large())},
      {"evictions", absl::StrCat(stats.evictions())},
      {"expirations", absl::StrCat(stats.expirations())},
      {"invalidations", absl::StrCat(stats.invalidations())},
  };
  std::string out;
  for (const auto& [name, value] : rows) absl::StrAppendFormat(&out, "%-20s %s\n", name, value);
  return out;
}

}  // namespace batchd::client
