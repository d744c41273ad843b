// Text forms of task results and batch summaries: the results table, one line per streamed
// result, and the closing summary line. Pure functions; thread-safe.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <cstddef>
#include <string>

#include "batchd/v1/batch.pb.h"

namespace batchd::client {

// Widest output/error cell, in code points.
inline constexpr size_t kMaxCellWidth = 60;

// Compact JSON for `value`, cut to `max_width` code points; "-" when no value is set.
std::string CompactJson(const google::protobuf::Value& value, size_t max_width = kMaxCellWidth);

// Table of TASK, STATE, RETRIES, DURATION_MS, OUTPUT/ERROR (the error for unsuccessful
// tasks, else the output), in the summary's order, then FormatSummaryLine. Ends with '\n'.
std::string FormatResultTable(const batchd::v1::BatchSummary& summary);

// `a  SUCCEEDED  retries 0  101.2 ms  {"ms":100}` for streamed results. No newline.
std::string FormatResultLine(const batchd::v1::TaskResult& result);

// `batch ID STATE: total 4, successful 3, failed 1, retried 1, success rate 75.0%,
// duration 412.3 ms, throughput 9.7 tasks/s` (plus `, cancelled: REASON`). No newline.
// The success rate is computed from the counts, so it does not depend on the unit the
// daemon uses for success_rate.
std::string FormatSummaryLine(const batchd::v1::BatchSummary& summary);

}  // namespace batchd::client
