// The daemon's listening-security flags (--auth-token-file, --tls-*, --allow-insecure-remote,
// --unix-socket-mode) read once, after absl::ParseCommandLine, into a validated value with the
// token and PEM files' contents. Call from main's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::server {

struct TlsOptions {
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string client_ca_pem;  // empty: no client certificates asked for; else mTLS (required)
};

struct SecurityOptions {
  std::string bearer_token;  // empty: BatchService and WorkerService calls need no token
  std::optional<TlsOptions> tls;
  bool allow_insecure_remote = false;
  uint32_t unix_socket_mode = 0660;
};

// INVALID_ARGUMENT naming the flag when a value is unusable: an unreadable or empty file, a key
// without a certificate (or the reverse), a client CA without TLS, a bad socket mode.
absl::StatusOr<SecurityOptions> SecurityOptionsFromFlags();

// An octal permission mode such as "0660" or "600", at most 0777.
absl::StatusOr<uint32_t> ParseSocketMode(absl::string_view text);

// The token in `path`, surrounding whitespace (the trailing newline) stripped. INVALID_ARGUMENT
// naming --auth-token-file when the file cannot be read, is empty, or the token has characters
// other than visible ASCII (it travels in an HTTP/2 header).
absl::StatusOr<std::string> ReadBearerToken(const std::string& path);

// Whether `listen` may be served with `security`. INVALID_ARGUMENT when a TCP address beyond
// loopback would be served without a token and without TLS and --allow-insecure-remote is not
// given. On success, the warnings worth logging (e.g. a token sent in clear text).
absl::StatusOr<std::vector<std::string>> CheckListenSecurity(absl::string_view listen,
                                                             const SecurityOptions& security);

}  // namespace batchd::server
