// Short human forms of durations, rates and timestamps shared by batchctl's tables and
// progress output. Pure functions; thread-safe.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "absl/time/time.h"

namespace batchd::client {

// "412.3 ms" below a second, "1.52 s" above.
std::string FormatMillis(double ms);

// Time left, coarse: "3.2s", "4m05s", "2h03m".
std::string FormatEta(absl::Duration remaining);

// "1234 tasks/s"; one decimal below 10/s so slow batches do not read "0 tasks/s".
std::string FormatRate(double tasks_per_second);

// "2024-05-01T12:00:00Z" (UTC, whole seconds); "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// `part` as a percentage of `whole` with one decimal ("70.0%"); "-" when whole is 0.
std::string FormatPercent(double part, double whole);

}  // namespace batchd::client
