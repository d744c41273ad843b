#include "core/executors/http/http_response_outcome.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "core/process/valid_utf8.h"

namespace batchd::core {
namespace {

// The media type of a Content-Type value, lower-cased, without parameters.
std::string MediaType(absl::string_view content_type) {
  absl::string_view type = content_type.substr(0, content_type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
}

bool IsJsonMediaType(absl::string_view type) {
  return type == "application/json" || absl::EndsWith(type, "+json");
}

const std::string* FindHeader(const HttpResponseData& response, absl::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

}  // namespace

std::optional<uint32_t> ParseRetryAfter(absl::string_view value, WallTime now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == absl::string_view::npos) {
    uint64_t seconds = 0;
    // Too many digits for uint64 still means "a long time": cap it like any large value.
    if (!absl::SimpleAtoi(value, &seconds)) return kMaxRetryAfterMs;
    return static_cast<uint32_t>(std::min<uint64_t>(seconds, kMaxRetryAfterMs / 1000) * 1000);
  }
  absl::Time when;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), &when, &error)) {
    return std::nullopt;
  }
  const absl::Duration delay = when - absl::FromChrono(now);
  if (delay <= absl::ZeroDuration()) return 0;
  return static_cast<uint32_t>(
      std::min<int64_t>(absl::ToInt64Milliseconds(delay), kMaxRetryAfterMs));
}

boost::json::object HttpResponseOutput(const HttpResponseData& response) {
  boost::json::object headers;
  for (const auto& [key, value] : response.headers) {
    const std::string name = ToValidUtf8(absl::AsciiStrToLower(key));
    const std::string text = ToValidUtf8(value);
    if (boost::json::value* existing = headers.if_contains(name)) {
      boost::json::string& joined = existing->as_string();
      joined.append(", ");
      joined.append(text);
    } else {
      headers.emplace(name, text);
    }
  }
  boost::json::value body;
  const std::string* content_type = FindHeader(response, "content-type");
  if (content_type != nullptr && IsJsonMediaType(MediaType(*content_type))) {
    boost::system::error_code ec;
    body = boost::json::parse(response.body, ec);  // rejects invalid UTF-8 in strings
    if (ec) body = ToValidUtf8(response.body);
  } else {
    body = ToValidUtf8(response.body);
  }
  return boost::json::object{
      {"status", response.status}, {"headers", std::move(headers)}, {"body", std::move(body)}};
}

namespace {

// The units a response reports in `header`; nullopt when absent or not a non-negative integer.
std::optional<int64_t> UnitsUsed(const HttpResponseData& response, absl::string_view header) {
  if (header.empty()) return std::nullopt;
  const std::string* value = FindHeader(response, header);
  int64_t units = 0;
  if (value == nullptr || !absl::SimpleAtoi(*value, &units) || units < 0) return std::nullopt;
  return units;
}

}  // namespace

ExecutionOutcome HttpResponseOutcome(const HttpResponseData& response, WallTime now,
                                     absl::string_view units_header) {
  boost::json::object output = HttpResponseOutput(response);
  const std::optional<int64_t> units_used = UnitsUsed(response, units_header);
  if (response.status >= 200 && response.status < 400) {
    ExecutionOutcome ok = ExecutionOutcome::Success(std::move(output));
    ok.units_used = units_used;
    return ok;
  }
  std::string error = absl::StrCat("http: ", response.status);
  if (!response.reason.empty()) absl::StrAppend(&error, " ", ToValidUtf8(response.reason));
  const bool server_error = response.status >= 500 && response.status < 600;
  const bool retry_later = response.status == 429 || response.status == 503;
  std::optional<uint32_t> retry_after_ms;
  if (retry_later) {
    if (const std::string* header = FindHeader(response, "retry-after")) {
      retry_after_ms = ParseRetryAfter(*header, now);
    }
    if (retry_after_ms.has_value()) {
      absl::StrAppend(&error, " (retry after ", *retry_after_ms, " ms)");
    }
  }
  ExecutionOutcome outcome =
      ExecutionOutcome::Failure(std::move(error), /*non_retryable=*/!(server_error || retry_later));
  outcome.retry_after_ms = retry_after_ms;
  outcome.throttled = retry_later;
  outcome.units_used = units_used;
  outcome.output = std::move(output);
  return outcome;
}

}  // namespace batchd::core
