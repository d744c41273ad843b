// Text forms of shared limits (batchd.v1 LimitService): one rate, and the `batchctl limits list`
// table. Pure functions; thread-safe.
#pragma once

#include <string>

#include "batchd/v1/limit_service.pb.h"

namespace batchd::client {

// "20/1s", "90000/1m burst 10000", "500/1m requests": the form `--rate` takes, spelt out.
std::string FormatLimitRate(const batchd::v1::LimitRate& rate);

// KEY, IN FLIGHT (held/max, or held when unbounded), WAITING, RATES (each with the units
// available and the rate in force), THROTTLED, PAUSED (until when, or "-"), by key. Ends with
// '\n'.
std::string FormatLimitTable(const batchd::v1::ListLimitsResponse& response);

}  // namespace batchd::client
