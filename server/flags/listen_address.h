// What a --listen address is (TCP host:port or a unix socket path), whether it stays on this
// machine, and making a unix socket's path free for a new daemon without stealing a live one's.
// Free functions; thread-safe (PrepareUnixSocketPath touches the file system).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::server {

struct ListenAddress {
  enum class Kind { kTcp, kUnix, kUnixAbstract };
  Kind kind = Kind::kTcp;
  std::string host;       // kTcp: without brackets ("::1"); "" means every interface
  std::string unix_path;  // kUnix: the socket file's path
};

// "host:port", "[v6]:port", "unix:/path", "unix:relative", "unix:///path", "unix-abstract:name".
// INVALID_ARGUMENT naming --listen when there is no port or no path.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view listen);

// 127.0.0.0/8, ::1, ::ffff:127.x.x.x and "localhost" (any case). Host names are not resolved:
// any other name counts as remote, so the check errs on the safe side.
bool IsLoopbackHost(absl::string_view host);

// True for unix sockets and loopback TCP addresses: nothing off this machine can connect.
bool IsLocalOnly(const ListenAddress& address);

// Readies `path` for bind(): OK when nothing is there; a socket nobody accepts on (left by a
// daemon that died) is removed. FAILED_PRECONDITION saying why (the caller names the address)
// when a process still serves on it, or when it is not a socket (a regular file or directory is
// never removed).
absl::Status PrepareUnixSocketPath(const std::string& path);

}  // namespace batchd::server
