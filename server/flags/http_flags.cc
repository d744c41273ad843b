#include "server/flags/http_flags.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, http_ca_file, "",
          "PEM file of CA certificates the http executor trusts for https:// besides the "
          "system's (/etc/ssl/certs), e.g. a company's or a test CA");

namespace batchd::server {

absl::StatusOr<core::HttpExecutorOptions> HttpOptionsFromFlags() {
  core::HttpExecutorOptions options;
  options.ca_file = absl::GetFlag(FLAGS_http_ca_file);
  if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --http-ca-file '", options.ca_file, "': ", std::strerror(errno)));
  }
  return options;
}

}  // namespace batchd::server
