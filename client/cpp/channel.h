// Connecting to batchd: validating the address forms batchctl accepts, loading the token and TLS
// files, and creating channels that send the token on every call and speak TLS when asked.
// Free functions; thread-safe.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::client {

// How a client proves who it is and checks the daemon: a bearer token, TLS.
struct ChannelSecurity {
  // Sent as "authorization: Bearer <token>" with every call; empty: none.
  std::string bearer_token;
  bool tls = false;
  std::string tls_root_certs_pem;   // empty with `tls`: the system's roots
  std::string tls_cert_chain_pem;   // client certificate for mTLS; empty: none
  std::string tls_private_key_pem;  // its key
  std::string tls_server_name;      // name the server certificate must have; empty: the host
};

// The files batchctl's flags name (--token-file, --tls-ca, --tls-cert, --tls-key) and
// --tls-server-name. Any --tls-* turns TLS on.
struct ChannelSecurityFiles {
  std::string token_file;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
};

// Everything needed to reach the daemon.
struct ChannelOptions {
  // "host:port", "[ipv6]:port" or "unix:/path".
  std::string address;
  // Large batches return large summaries; gRPC's 4 MiB default is too small for them.
  int max_receive_message_bytes = 64 * 1024 * 1024;
  ChannelSecurity security;
};

// Reads the files. INVALID_ARGUMENT naming the flag when one cannot be read or is empty, when
// only one of --tls-cert/--tls-key is given, or when the token is not one line of visible ASCII.
absl::StatusOr<ChannelSecurity> LoadChannelSecurity(const ChannelSecurityFiles& files);

// The gRPC target for `address`, or INVALID_ARGUMENT naming the accepted forms.
absl::StatusOr<std::string> ResolveTarget(absl::string_view address);

// A lazily connecting channel to `options.address`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ChannelOptions& options);

// A channel to a `target` from ResolveTarget, with `security` and the caller's own `args` (the
// worker runtime sets some of its own).
std::shared_ptr<grpc::Channel> CreateSecureChannel(const std::string& target,
                                                   const ChannelSecurity& security,
                                                   grpc::ChannelArguments args);

}  // namespace batchd::client
