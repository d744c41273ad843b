// Text forms of a BatchProgress: the live progress bar, a plain line for pipes and logs,
// and key: value details. Pure functions (time comes in as `elapsed`); thread-safe.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "batchd/v1/batch.pb.h"

namespace batchd::client {

// `[#######...]  70/100  70.0%  1234 tasks/s  ETA 3.2s` with `width` cells between the
// brackets (at least 1). The rate is completed tasks over `elapsed`. The ETA is the daemon's
// estimate when it gives one, else extrapolated from the rate, else "--"; a finished batch
// shows its state instead. "  N failed" is appended when tasks have failed. No newline.
std::string RenderProgressBar(const batchd::v1::BatchProgress& progress, int width,
                              absl::Duration elapsed);

// `RUNNING 70/100 (70.0%) succeeded 68 failed 2 running 5 pending 25`. No newline.
std::string FormatProgressLine(const batchd::v1::BatchProgress& progress);

// One aligned "key: value" line per field, labels last; ends with '\n'.
std::string FormatProgressDetails(const batchd::v1::BatchProgress& progress);

}  // namespace batchd::client
