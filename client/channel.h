// Connecting to batchd: validating the address forms batchctl accepts and creating the channel.
// Free functions; thread-safe.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::client {

// Everything needed to reach the daemon. Insecure for now; a bearer token and TLS files
// will be added here so callers keep building channels the same way.
struct ChannelOptions {
  // "host:port", "[ipv6]:port" or "unix:/path".
  std::string address;
  // Large batches return large summaries; gRPC's 4 MiB default is too small for them.
  int max_receive_message_bytes = 64 * 1024 * 1024;
};

// The gRPC target for `address`, or INVALID_ARGUMENT naming the accepted forms.
absl::StatusOr<std::string> ResolveTarget(absl::string_view address);

// A lazily connecting channel to `options.address`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ChannelOptions& options);

}  // namespace batchd::client
