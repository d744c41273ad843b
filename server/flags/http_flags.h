// The daemon's http executor flags (--http-ca-file, --http-deny, --http-allow, the connection
// pool's and DNS's) and the proxy variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) read into the
// executor's options. Call from main's thread only, after absl::ParseCommandLine.
#pragma once

#include "absl/status/statusor.h"
#include "core/executors/http/http_executor.h"

namespace batchd::server {

// INVALID_ARGUMENT naming the flag (or variable) when the CA file is not a readable file, an
// egress rule or a proxy does not parse, or a bound or duration is out of range.
absl::StatusOr<core::HttpExecutorOptions> HttpOptionsFromFlags();

}  // namespace batchd::server
