// How an HTTP response becomes a task outcome: the output object {"status", "headers", "body"}
// and the success / retry rules by status code, including Retry-After. Pure functions of their
// arguments (the wall time is passed in for HTTP-date Retry-After); thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/executors/executor.h"
#include "core/time/clock.h"

namespace batchd::core {

struct HttpResponseData {
  unsigned status = 0;
  std::string reason;                                        // e.g. "Not Found"; may be empty
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
};

// Retry-After longer than this is cut to it, so a misbehaving server cannot park a task for days.
inline constexpr uint32_t kMaxRetryAfterMs = 3600 * 1000;

// {"status": N, "headers": {lower-case name: value, repeats joined with ", "}, "body": B}; B is
// the parsed JSON when the Content-Type is application/json or */*+json and the body parses,
// else the body as a string with invalid UTF-8 replaced by U+FFFD.
boost::json::object HttpResponseOutput(const HttpResponseData& response);

// 2xx and 3xx succeed (a redirect that reaches here was not followed: see
// http_request_spec.h); 429, 503 and other 5xx fail retryably (429
// and 503 throttled, with their Retry-After as the next delay); other statuses fail
// non-retryably. With a `units_header`, its value (a non-negative integer) is the units used.
ExecutionOutcome HttpResponseOutcome(const HttpResponseData& response, WallTime now,
                                     absl::string_view units_header = {});

// Retry-After as delta-seconds or an IMF-fixdate HTTP-date, in ms from `now` (0 for past dates),
// capped at kMaxRetryAfterMs; nullopt when unparsable.
std::optional<uint32_t> ParseRetryAfter(absl::string_view value, WallTime now);

}  // namespace batchd::core
