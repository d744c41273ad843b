// What an `http` task asks for, parsed and validated from its JSON input before any I/O, so bad
// input fails the task at once with an error naming the field. Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace batchd::core {

struct HttpRequestSpec {
  std::string method = "GET";
  bool tls = false;          // https://
  std::string host;          // as written in the URL (brackets stripped from IPv6 literals)
  uint16_t port = 80;        // 443 for https:// unless the URL names one
  std::string target = "/";  // path and query; the fragment is dropped
  std::string host_header;   // host[:port] as the Host header wants it
  std::vector<std::pair<std::string, std::string>> headers;  // input order
  std::optional<std::string> body;
  std::optional<uint32_t> timeout_ms;  // none: only the task's scheduler timeout applies
  // Not input: the response header reporting the units used, named by the task's shared limit.
  std::string units_header{};
};

// Input: {"method", "url", "headers", "body", "timeout_ms"}; only "url" is required.
// INVALID_ARGUMENT with a message starting "http: input.<field>" for bad input.
absl::StatusOr<HttpRequestSpec> ParseHttpRequestSpec(const boost::json::value& input);

}  // namespace batchd::core
