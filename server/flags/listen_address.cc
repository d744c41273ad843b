#include "server/flags/listen_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"

namespace batchd::server {
namespace {

absl::Status InvalidListen(absl::string_view listen, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid --listen '", listen, "': ", why,
                                                 " (expected host:port, [ipv6]:port or "
                                                 "unix:/path)"));
}

bool ValidPort(absl::string_view port) {
  uint32_t value = 0;
  return !port.empty() && absl::ascii_isdigit(static_cast<unsigned char>(port[0])) &&
         absl::SimpleAtoi(port, &value) && value <= 65535;
}

absl::StatusOr<ListenAddress> ParseTcp(absl::string_view listen) {
  ListenAddress address;
  absl::string_view port;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos) return InvalidListen(listen, "unclosed '['");
    address.host = std::string(listen.substr(1, close - 1));
    absl::string_view rest = listen.substr(close + 1);
    if (!absl::ConsumePrefix(&rest, ":")) return InvalidListen(listen, "missing port");
    port = rest;
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) return InvalidListen(listen, "missing port");
    address.host = std::string(listen.substr(0, colon));
    if (absl::StrContains(address.host, ':')) {
      return InvalidListen(listen, "an IPv6 address needs brackets");
    }
    port = listen.substr(colon + 1);
  }
  if (!ValidPort(port)) return InvalidListen(listen, "port must be 0-65535");
  return address;
}

// True when something accepts connections on the socket at `path` (a full backlog counts).
absl::StatusOr<bool> SomeoneListens(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::FailedPreconditionError(absl::StrCat("socket(): ", std::strerror(errno)));
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int error = errno;
  close(fd);
  if (rc == 0 || error == EAGAIN || error == EINPROGRESS) return true;
  if (error == ECONNREFUSED || error == ENOENT) return false;
  return absl::FailedPreconditionError(
      absl::StrCat("cannot probe the existing socket: ", std::strerror(error)));
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view listen) {
  ListenAddress address;
  if (absl::ConsumePrefix(&listen, "unix-abstract:")) {
    address.kind = ListenAddress::Kind::kUnixAbstract;
    return address;
  }
  absl::string_view path = listen;
  if (absl::ConsumePrefix(&path, "unix:")) {
    // gRPC's own forms: unix:path (relative or absolute) and unix:///absolute/path.
    if (absl::StartsWith(path, "//")) path.remove_prefix(2);
    if (path.empty()) return InvalidListen(listen, "empty socket path");
    address.kind = ListenAddress::Kind::kUnix;
    address.unix_path = std::string(path);
    return address;
  }
  return ParseTcp(listen);
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

bool IsLocalOnly(const ListenAddress& address) {
  return address.kind != ListenAddress::Kind::kTcp || IsLoopbackHost(address.host);
}

absl::Status PrepareUnixSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path '", path, "' is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(std::strerror(errno));
  }
  if (!S_ISSOCK(info.st_mode)) {
    return absl::FailedPreconditionError("exists and is not a socket; refusing to replace it");
  }
  ASSIGN_OR_RETURN(const bool live, SomeoneListens(path));
  if (live) return absl::FailedPreconditionError("another process is serving on this socket");
  // A stale socket left by a daemon that did not shut down cleanly.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove the stale socket: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace batchd::server
