#include "server/rpc/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "server/flags/listen_address.h"

namespace batchd::server {
namespace {

// `listen` with its port replaced by the one bound; unix sockets have no port.
std::string BoundAddress(const std::string& listen, int selected_port) {
  if (absl::StartsWith(listen, "unix:")) return listen;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return listen;
  return absl::StrCat(listen.substr(0, colon), ":", selected_port);
}

std::shared_ptr<grpc::ServerCredentials> CredentialsFor(const SecurityOptions& security) {
  if (!security.tls.has_value()) return grpc::InsecureServerCredentials();
  const TlsOptions& tls = *security.tls;
  grpc::SslServerCredentialsOptions ssl(
      tls.client_ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = tls.client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({tls.private_key_pem, tls.cert_chain_pem});
  return grpc::SslServerCredentials(ssl);
}

// While alive, files (the socket) are created accessible to the owner only, so the socket is
// never more open than --unix-socket-mode between bind() and chmod(). The umask is per process;
// nothing else creates files while the server starts.
class OwnerOnlyUmask {
 public:
  OwnerOnlyUmask() : previous_(umask(0177)) {}
  ~OwnerOnlyUmask() { umask(previous_); }
  OwnerOnlyUmask(const OwnerOnlyUmask&) = delete;
  OwnerOnlyUmask& operator=(const OwnerOnlyUmask&) = delete;

 private:
  const mode_t previous_;
};

absl::Status CannotListen(const std::string& listen, absl::string_view why) {
  return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", why));
}

}  // namespace

absl::StatusOr<RunningServer> StartGrpcServer(const std::string& listen,
                                              absl::Span<grpc::Service* const> services,
                                              ServerTuning tuning,
                                              const SecurityOptions& security) {
  ASSIGN_OR_RETURN(const ListenAddress address, ParseListenAddress(listen));
  const bool unix_socket = address.kind == ListenAddress::Kind::kUnix;
  if (unix_socket) {
    if (absl::Status s = PrepareUnixSocketPath(address.unix_path); !s.ok()) {
      return CannotListen(listen, s.message());
    }
  }
  // Registers a builder plugin; idempotent, must precede the builder.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, Linux lets a second daemon bind the same port and share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(tuning.max_request_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(tuning.keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  if (!tuning.interceptors.empty()) {
    builder.experimental().SetInterceptorCreators(std::move(tuning.interceptors));
  }
  int selected_port = 0;
  builder.AddListeningPort(listen, CredentialsFor(security), &selected_port);
  for (grpc::Service* service : services) builder.RegisterService(service);

  RunningServer running;
  {
    std::optional<OwnerOnlyUmask> owner_only;
    if (unix_socket) owner_only.emplace();
    running.server = builder.BuildAndStart();
  }
  if (running.server == nullptr || selected_port == 0) {
    if (running.server != nullptr) running.server->Shutdown();
    // gRPC logs why TLS credentials were refused; bind errors look the same from here.
    return CannotListen(listen, security.tls.has_value()
                                    ? "address already in use (or not permitted), or "
                                      "--tls-cert/--tls-key not usable"
                                    : "address already in use (or not permitted)");
  }
  if (unix_socket && chmod(address.unix_path.c_str(), security.unix_socket_mode) != 0) {
    const int error = errno;
    running.server->Shutdown();
    return CannotListen(listen, absl::StrCat("chmod: ", std::strerror(error)));
  }
  running.address = BoundAddress(listen, selected_port);
  return running;
}

}  // namespace batchd::server
