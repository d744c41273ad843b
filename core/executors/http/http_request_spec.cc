#include "core/executors/http/http_request_spec.h"

#include <boost/json.hpp>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "core/base/status_macros.h"
#include "core/process/json_number.h"

namespace batchd::core {
namespace {

constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
constexpr uint64_t kMaxTimeoutMs = 24ull * 3600 * 1000;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("http: input.", field, " ", problem));
}

absl::Status BadUrl(absl::string_view url, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "http: input.url '", url, "' is not a valid http:// or https:// URL: ", problem));
}

// RFC 9110 tchar: what header names may contain.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (absl::string_view("!#$%&'*+-.^_`|~").find(c) == absl::string_view::npos) return false;
  }
  return true;
}

// Header values must not smuggle a line break into the request (header injection).
bool IsSafeHeaderValue(absl::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool IsVisibleAscii(absl::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// Splits "host[:port]" (host possibly a bracketed IPv6 literal) into the spec.
absl::Status ParseAuthority(absl::string_view url, absl::string_view authority,
                            HttpRequestSpec& spec) {
  if (absl::StrContains(authority, '@')) return BadUrl(url, "user information is not supported");
  const bool ipv6 = absl::StartsWith(authority, "[");
  absl::string_view host = authority;
  std::optional<absl::string_view> port;
  if (ipv6) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return BadUrl(url, "unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    const absl::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return BadUrl(url, "unexpected text after the IPv6 literal");
      port = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return BadUrl(url, "the host is empty");
  for (char c : host) {
    const bool ok =
        ipv6 ? (absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')
             : (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                c == '_');
    if (!ok) return BadUrl(url, "invalid character in the host");
  }
  if (port.has_value()) {
    uint32_t n = 0;
    if (port->empty() || port->find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(*port, &n) || n == 0 || n > 65535) {
      return BadUrl(url, "the port must be a number from 1 to 65535");
    }
    spec.port = static_cast<uint16_t>(n);
  }
  spec.host = std::string(host);
  const std::string bracketed = ipv6 ? absl::StrCat("[", host, "]") : spec.host;
  const uint16_t default_port = spec.tls ? 443 : 80;
  spec.host_header =
      spec.port == default_port ? bracketed : absl::StrCat(bracketed, ":", spec.port);
  return absl::OkStatus();
}

absl::Status ParseUrlText(absl::string_view url, HttpRequestSpec& spec) {
  spec.url = std::string(url);
  spec.target = "/";
  spec.tls = absl::StartsWithIgnoreCase(url, "https://");
  if (!spec.tls && !absl::StartsWithIgnoreCase(url, "http://")) {
    return BadUrl(url, "it must start with http:// or https://");
  }
  if (!IsVisibleAscii(url)) {
    return BadUrl(url, "spaces, control and non-ASCII characters must be percent-encoded");
  }
  spec.port = spec.tls ? 443 : 80;
  absl::string_view rest = url.substr(spec.tls ? 8 : 7);
  rest = rest.substr(0, rest.find('#'));
  const size_t authority_end = rest.find_first_of("/?");
  const absl::string_view authority = rest.substr(0, authority_end);
  RETURN_IF_ERROR(ParseAuthority(url, authority, spec));
  if (authority_end != absl::string_view::npos) {
    absl::string_view target = rest.substr(authority_end);
    spec.target = target[0] == '/' ? std::string(target) : absl::StrCat("/", target);
  }
  return absl::OkStatus();
}

absl::Status ParseUrl(const boost::json::value* value, HttpRequestSpec& spec) {
  if (value == nullptr) return Invalid("url", "is required");
  const boost::json::string* s = value->if_string();
  if (s == nullptr) return Invalid("url", "must be a string");
  return ParseUrlText(absl::string_view(s->data(), s->size()), spec);
}

absl::Status ParseMaxRedirects(const boost::json::value* value, HttpRequestSpec& spec) {
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  std::optional<uint64_t> n = AsNonNegativeInteger(*value);
  if (!n.has_value() || *n > kMaxRedirectsLimit) {
    return Invalid("max_redirects",
                   absl::StrCat("must be a whole number from 0 to ", kMaxRedirectsLimit));
  }
  spec.max_redirects = static_cast<uint32_t>(*n);
  return absl::OkStatus();
}

absl::Status ParseMethod(const boost::json::value* value, HttpRequestSpec& spec) {
  if (value == nullptr) return absl::OkStatus();
  const boost::json::string* s = value->if_string();
  if (s != nullptr) {
    for (const char* method : kMethods) {
      if (*s == method) {
        spec.method = method;
        return absl::OkStatus();
      }
    }
  }
  return Invalid("method", absl::StrCat("must be one of ", absl::StrJoin(kMethods, ", ")));
}

absl::Status ParseHeaders(const boost::json::value* value, HttpRequestSpec& spec) {
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  const boost::json::object* headers = value->if_object();
  if (headers == nullptr) return Invalid("headers", "must be an object of strings");
  for (const auto& [key, v] : *headers) {
    const absl::string_view name(key.data(), key.size());
    if (!IsToken(name)) {
      return Invalid("headers", absl::StrCat("has an invalid header name '", name, "'"));
    }
    const boost::json::string* s = v.if_string();
    if (s == nullptr) return Invalid(absl::StrCat("headers.", name), "must be a string");
    if (!IsSafeHeaderValue(absl::string_view(s->data(), s->size()))) {
      return Invalid(absl::StrCat("headers.", name), "must not contain CR, LF or NUL");
    }
    spec.headers.emplace_back(std::string(name), std::string(s->data(), s->size()));
  }
  return absl::OkStatus();
}

bool HasHeader(const HttpRequestSpec& spec, absl::string_view name) {
  for (const auto& [key, value] : spec.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return true;
  }
  return false;
}

// A string is sent as is; any other JSON value as JSON text (null means no body).
void ParseBody(const boost::json::value* value, HttpRequestSpec& spec) {
  if (value == nullptr || value->is_null()) return;
  if (const boost::json::string* s = value->if_string()) {
    spec.body = std::string(s->data(), s->size());
    return;
  }
  spec.body = boost::json::serialize(*value);
  if (!HasHeader(spec, "content-type"))
    spec.headers.emplace_back("Content-Type", "application/json");
}

absl::Status ParseTimeout(const boost::json::value* value, HttpRequestSpec& spec) {
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  std::optional<uint64_t> ms = AsNonNegativeInteger(*value);
  if (!ms.has_value() || *ms == 0 || *ms > kMaxTimeoutMs) {
    return Invalid("timeout_ms", absl::StrCat("must be a whole number of milliseconds from 1 to ",
                                              kMaxTimeoutMs));
  }
  spec.timeout_ms = static_cast<uint32_t>(*ms);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HttpRequestSpec> ParseHttpRequestSpec(const boost::json::value& input) {
  const boost::json::object* obj = input.if_object();
  if (obj == nullptr) {
    return absl::InvalidArgumentError(
        "http: input must be an object {\"url\": ..., \"method\", \"headers\", \"body\", "
        "\"timeout_ms\"}");
  }
  HttpRequestSpec spec;
  RETURN_IF_ERROR(ParseUrl(obj->if_contains("url"), spec));
  RETURN_IF_ERROR(ParseMethod(obj->if_contains("method"), spec));
  RETURN_IF_ERROR(ParseHeaders(obj->if_contains("headers"), spec));
  RETURN_IF_ERROR(ParseTimeout(obj->if_contains("timeout_ms"), spec));
  RETURN_IF_ERROR(ParseMaxRedirects(obj->if_contains("max_redirects"), spec));
  ParseBody(obj->if_contains("body"), spec);
  return spec;
}

bool IsFollowedRedirect(absl::string_view method, unsigned status) {
  switch (status) {
    case 301:
    case 302:
    case 303:
      return method == "GET" || method == "HEAD";
    case 307:
    case 308:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<HttpRequestSpec> RedirectedSpec(const HttpRequestSpec& spec,
                                               absl::string_view location) {
  const absl::string_view scheme = spec.tls ? "https:" : "http:";
  std::string url;
  if (absl::StartsWithIgnoreCase(location, "http://") ||
      absl::StartsWithIgnoreCase(location, "https://")) {
    url = std::string(location);
  } else if (absl::StartsWith(location, "//")) {
    url = absl::StrCat(scheme, location);
  } else {
    const std::string origin = absl::StrCat(
        scheme, "//",
        spec.host.find(':') != std::string::npos ? absl::StrCat("[", spec.host, "]") : spec.host,
        ":", spec.port);
    if (absl::StartsWith(location, "/")) {
      url = absl::StrCat(origin, location);
    } else {
      // Relative to the current path's directory (its query dropped).
      const absl::string_view path =
          absl::string_view(spec.target).substr(0, absl::string_view(spec.target).find('?'));
      url = absl::StrCat(origin, path.substr(0, path.rfind('/') + 1), location);
    }
  }
  HttpRequestSpec next = spec;
  next.headers.clear();
  if (absl::Status parsed = ParseUrlText(url, next); !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("http: ", spec.url, " redirects to '", location,
                                                   "', which is not a valid URL"));
  }
  if (spec.tls && !next.tls) {
    return absl::FailedPreconditionError(absl::StrCat("http: ", spec.url, " redirects to ",
                                                      next.url,
                                                      ": a redirect from https:// to http:// "
                                                      "is not followed"));
  }
  const bool same_origin = next.tls == spec.tls && next.host == spec.host && next.port == spec.port;
  for (const auto& [name, value] : spec.headers) {
    if (!same_origin &&
        (absl::EqualsIgnoreCase(name, "authorization") || absl::EqualsIgnoreCase(name, "cookie"))) {
      continue;
    }
    next.headers.emplace_back(name, value);
  }
  --next.max_redirects;
  return next;
}

}  // namespace batchd::core
