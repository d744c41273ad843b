#include "client/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace batchd::client {
namespace {

constexpr absl::string_view kUnixScheme = "unix:";

absl::Status InvalidAddress(absl::string_view address, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid address '", address, "': ", why,
                                                 " (expected host:port or unix:/path)"));
}

bool ValidHost(absl::string_view host) {
  if (host.empty()) return false;
  if (absl::StartsWith(host, "[")) return absl::EndsWith(host, "]") && host.size() > 2;
  // A bare IPv6 literal is ambiguous with the port separator.
  return !absl::StrContains(host, ':');
}

}  // namespace

absl::StatusOr<std::string> ResolveTarget(absl::string_view address) {
  if (absl::StartsWith(address, kUnixScheme)) {
    if (address.size() == kUnixScheme.size()) return InvalidAddress(address, "empty socket path");
    return std::string(address);
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return InvalidAddress(address, "missing port");
  if (!ValidHost(address.substr(0, colon))) return InvalidAddress(address, "bad host");
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return InvalidAddress(address, "port must be 1-65535");
  }
  return absl::StrCat("dns:///", address);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ChannelOptions& options) {
  absl::StatusOr<std::string> target = ResolveTarget(options.address);
  if (!target.ok()) return target.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  return grpc::CreateCustomChannel(*target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace batchd::client
