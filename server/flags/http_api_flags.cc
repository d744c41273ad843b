#include "server/flags/http_api_flags.h"

#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, http_listen, "",
          "host:port (or a bare port, on 127.0.0.1) serving the HTTP/JSON API (/v1/...), the "
          "dashboard (/), /metrics, /healthz and /readyz; port 0 picks a free port; empty = off");
ABSL_FLAG(uint64_t, http_api_max_body_bytes, 0,
          "Largest HTTP request body accepted (413 above); 0 = --max-request-bytes");
ABSL_FLAG(absl::Duration, http_api_read_timeout, absl::Seconds(10),
          "How long a client may take to send an HTTP request's header and body");
ABSL_FLAG(absl::Duration, http_api_idle_timeout, absl::Seconds(60),
          "How long an idle keep-alive HTTP connection stays open");
ABSL_FLAG(absl::Duration, http_api_write_timeout, absl::Seconds(30),
          "How long a client may take to read an HTTP response (or one message of a stream)");
ABSL_FLAG(uint32_t, http_api_max_connections, 1024,
          "HTTP connections served at once (more wait to be accepted)");

// Defined in daemon_flags.cc: kept as an alias of --http-listen.
ABSL_DECLARE_FLAG(std::string, metrics_listen);

namespace batchd::server {
namespace {

absl::Status CheckPositive(const char* flag, absl::Duration d) {
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --", flag, " ", absl::FormatDuration(d), ": must be positive"));
  }
  return absl::OkStatus();
}

// "8080" -> "127.0.0.1:8080"; host:port checked for its shape (the listener checks the host).
absl::StatusOr<std::string> NormalizeListen(const char* flag, std::string listen) {
  listen = std::string(absl::StripAsciiWhitespace(listen));
  if (listen.empty()) return listen;
  uint32_t port = 0;
  if (absl::SimpleAtoi(listen, &port) && port <= 65535) return absl::StrCat("127.0.0.1:", port);
  if (absl::StartsWith(listen, ":") && absl::SimpleAtoi(listen.substr(1), &port) && port <= 65535) {
    return absl::StrCat("127.0.0.1", listen);
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --", flag, " '", listen, "': expected host:port or a port"));
  }
  return listen;
}

}  // namespace

absl::StatusOr<HttpApiOptions> HttpApiOptionsFromFlags(uint64_t max_request_bytes) {
  HttpApiOptions options;
  absl::StatusOr<std::string> http =
      NormalizeListen("http-listen", absl::GetFlag(FLAGS_http_listen));
  if (!http.ok()) return http.status();
  absl::StatusOr<std::string> metrics =
      NormalizeListen("metrics-listen", absl::GetFlag(FLAGS_metrics_listen));
  if (!metrics.ok()) return metrics.status();
  if (!http->empty() && !metrics->empty() && *http != *metrics) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen '", *metrics, "' and --http-listen '", *http,
                     "' differ: --metrics-listen is an alias of --http-listen (/metrics is "
                     "served there); give one of them"));
  }
  options.listen = http->empty() ? *metrics : *http;
  const uint64_t body = absl::GetFlag(FLAGS_http_api_max_body_bytes);
  options.max_body_bytes = body == 0 ? max_request_bytes : body;
  options.read_timeout = absl::GetFlag(FLAGS_http_api_read_timeout);
  options.idle_timeout = absl::GetFlag(FLAGS_http_api_idle_timeout);
  options.write_timeout = absl::GetFlag(FLAGS_http_api_write_timeout);
  if (absl::Status s = CheckPositive("http-api-read-timeout", options.read_timeout); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPositive("http-api-idle-timeout", options.idle_timeout); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPositive("http-api-write-timeout", options.write_timeout); !s.ok()) {
    return s;
  }
  options.max_connections = absl::GetFlag(FLAGS_http_api_max_connections);
  if (options.max_connections == 0) {
    return absl::InvalidArgumentError("invalid --http-api-max-connections 0: must be positive");
  }
  return options;
}

}  // namespace batchd::server
