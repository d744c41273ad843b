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
#include "absl/strings/string_view.h"

namespace batchd::core {

// Redirects followed at most (input.max_redirects, 0 to 20).
inline constexpr uint32_t kDefaultMaxRedirects = 5;
inline constexpr uint32_t kMaxRedirectsLimit = 20;

struct HttpRequestSpec {
  std::string url;  // as given (or as the last redirect named it), for messages
  std::string method = "GET";
  bool tls = false;          // https://
  std::string host;          // as written in the URL (brackets stripped from IPv6 literals)
  uint16_t port = 80;        // 443 for https:// unless the URL names one
  std::string target = "/";  // path and query; the fragment is dropped
  std::string host_header;   // host[:port] as the Host header wants it
  std::vector<std::pair<std::string, std::string>> headers;  // input order
  std::optional<std::string> body;
  std::optional<uint32_t> timeout_ms;             // none: only the task's scheduler timeout applies
  uint32_t max_redirects = kDefaultMaxRedirects;  // left to follow
  // Not input: the response header reporting the units used, named by the task's shared limit.
  std::string units_header{};
};

// Input: {"method", "url", "headers", "body", "timeout_ms", "max_redirects"}; only "url" is
// required. INVALID_ARGUMENT with a message starting "http: input.<field>" for bad input.
absl::StatusOr<HttpRequestSpec> ParseHttpRequestSpec(const boost::json::value& input);

// Whether a response of `status` to a request of `method` is a redirect this executor follows
// (while redirects are left): 301, 302 and 303 for GET and HEAD, 307 and 308 for every method.
bool IsFollowedRedirect(absl::string_view method, unsigned status);

// The request after a redirect to `location` (an absolute URL, "//host/…", "/path" or a path
// relative to the current one), with one redirect less left. Method, body and headers stay,
// except that Authorization and Cookie are dropped when the redirect leaves the scheme, host
// and port. FAILED_PRECONDITION for a redirect from https:// to http://, INVALID_ARGUMENT for
// a Location that is not a valid URL; both name the two URLs.
absl::StatusOr<HttpRequestSpec> RedirectedSpec(const HttpRequestSpec& spec,
                                               absl::string_view location);

}  // namespace batchd::core
