#include "server/flags/http_flags.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"

ABSL_FLAG(std::string, http_ca_file, "",
          "PEM file of CA certificates the http executor trusts for https:// besides the "
          "system's (/etc/ssl/certs), e.g. a company's or a test CA");

ABSL_FLAG(std::vector<std::string>, http_deny, {},
          "Comma-separated destinations the http executor must not reach: host names, *.domain, "
          "IP addresses or CIDRs, each with an optional :PORT (e.g. 10.0.0.0/8,*.internal). "
          "Link-local and cloud metadata addresses are always denied unless --http-allow names "
          "them");
ABSL_FLAG(std::vector<std::string>, http_allow, {},
          "Comma-separated destinations the http executor may reach (same forms as "
          "--http-deny); when given, every other destination is denied");

ABSL_FLAG(uint32_t, http_max_connections_per_host, 100,
          "Connections the http executor keeps open to one scheme, host and port at most "
          "(requests beyond wait for one to be free)");
ABSL_FLAG(uint32_t, http_max_connections, 1000,
          "Connections the http executor keeps open in all at most (an idle one of another host "
          "is closed to make room)");
ABSL_FLAG(absl::Duration, http_idle_timeout, absl::Seconds(15),
          "How long the http executor keeps an idle connection for the next request; 0 opens a "
          "new connection per request");
ABSL_FLAG(absl::Duration, http_dns_timeout, absl::Seconds(5),
          "How long the http executor waits for a DNS lookup");
ABSL_FLAG(absl::Duration, http_dns_ttl, absl::Seconds(10),
          "How long the http executor reuses a DNS answer; 0 looks up every new connection");

namespace batchd::server {
namespace {

// INVALID_ARGUMENT naming the flag for a negative duration.
absl::StatusOr<std::chrono::milliseconds> Milliseconds(absl::string_view flag, absl::Duration d,
                                                       bool positive) {
  if (d < absl::ZeroDuration() || (positive && d == absl::ZeroDuration())) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --", flag, " ", absl::FormatDuration(d),
                     positive ? ": must be positive" : ": must not be negative"));
  }
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

}  // namespace

absl::StatusOr<core::HttpExecutorOptions> HttpOptionsFromFlags() {
  core::HttpExecutorOptions options;
  options.ca_file = absl::GetFlag(FLAGS_http_ca_file);
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --http-ca-file '", options.ca_file, "': ", std::strerror(errno)));
  }
  absl::StatusOr<core::EgressPolicy> egress =
      core::EgressPolicy::Make(absl::GetFlag(FLAGS_http_deny), absl::GetFlag(FLAGS_http_allow));
  if (!egress.ok()) return egress.status();
  options.egress = *std::move(egress);

  core::HttpTransportOptions& transport = options.transport;
  transport.pool.max_per_host = absl::GetFlag(FLAGS_http_max_connections_per_host);
  transport.pool.max_total = absl::GetFlag(FLAGS_http_max_connections);
  if (transport.pool.max_per_host == 0 || transport.pool.max_total == 0) {
    return absl::InvalidArgumentError(
        "invalid --http-max-connections-per-host or --http-max-connections: must be at least 1");
  }
  ASSIGN_OR_RETURN(
      transport.pool.idle_timeout,
      Milliseconds("http-idle-timeout", absl::GetFlag(FLAGS_http_idle_timeout), false));
  ASSIGN_OR_RETURN(transport.dns_timeout,
                   Milliseconds("http-dns-timeout", absl::GetFlag(FLAGS_http_dns_timeout), true));
  ASSIGN_OR_RETURN(transport.dns_ttl,
                   Milliseconds("http-dns-ttl", absl::GetFlag(FLAGS_http_dns_ttl), false));
  ASSIGN_OR_RETURN(transport.proxy, core::ProxyConfig::FromEnvironment());
  return options;
}

}  // namespace batchd::server
