#include "server/flags/http_flags.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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

namespace batchd::server {

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
  return options;
}

}  // namespace batchd::server
