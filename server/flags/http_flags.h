// The daemon's http executor flags (--http-ca-file, --http-deny, --http-allow) read into the
// executor's options. Call from
// main's thread only, after absl::ParseCommandLine.
#pragma once

#include "absl/status/statusor.h"
#include "core/executors/http/http_executor.h"

namespace batchd::server {

// INVALID_ARGUMENT naming the flag when the CA file is not a readable file or an egress rule
// does not parse.
absl::StatusOr<core::HttpExecutorOptions> HttpOptionsFromFlags();

}  // namespace batchd::server
