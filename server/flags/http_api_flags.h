// The HTTP listener's flags (--http-listen, with --metrics-listen as its alias, and the
// --http-api-* limits) read once, after absl::ParseCommandLine, into a validated value. Call from
// main's thread only.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace batchd::server {

struct HttpApiOptions {
  // host:port, or a bare port (then 127.0.0.1); empty = no HTTP listener.
  std::string listen;
  // Request bodies above this are refused with 413 (default: --max-request-bytes, as gRPC).
  uint64_t max_body_bytes = 64u << 20;
  // A request's header and body must arrive within this (slow clients are cut off).
  absl::Duration read_timeout = absl::Seconds(10);
  // A keep-alive connection with no request in progress is closed after this.
  absl::Duration idle_timeout = absl::Seconds(60);
  // A response (or one message of a stream) must be taken by the client within this.
  absl::Duration write_timeout = absl::Seconds(30);
  // Connections served at once; the next ones wait in the kernel's backlog.
  uint32_t max_connections = 1024;
};

// INVALID_ARGUMENT naming the flag when a value is unusable: a listen address that is not
// host:port, --metrics-listen and --http-listen naming different addresses, a zero timeout.
// `max_request_bytes` is --max-request-bytes, the body limit's default.
absl::StatusOr<HttpApiOptions> HttpApiOptionsFromFlags(uint64_t max_request_bytes);

}  // namespace batchd::server
