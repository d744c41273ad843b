// The daemon's http executor flags (--http-ca-file) read into the executor's options. Call from
// main's thread only, after absl::ParseCommandLine.
#pragma once

#include "absl/status/statusor.h"
#include "core/executors/http/http_executor.h"

namespace batchd::server {

// INVALID_ARGUMENT naming the flag when the CA file is not a readable file.
absl::StatusOr<core::HttpExecutorOptions> HttpOptionsFromFlags();

}  // namespace batchd::server
