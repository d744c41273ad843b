#include "server/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace batchd::server {
namespace {

// `listen` with its port replaced by the one bound; unix sockets have no port.
std::string BoundAddress(const std::string& listen, int selected_port) {
  if (absl::StartsWith(listen, "unix:")) return listen;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return listen;
  return absl::StrCat(listen.substr(0, colon), ":", selected_port);
}

}  // namespace

absl::StatusOr<RunningServer> StartGrpcServer(const std::string& listen,
                                              absl::Span<grpc::Service* const> services,
                                              int max_request_bytes) {
  // Registers a builder plugin; idempotent, must precede the builder.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, Linux lets a second daemon bind the same port and share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(max_request_bytes);
  int selected_port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &selected_port);
  for (grpc::Service* service : services) builder.RegisterService(service);

  RunningServer running;
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || selected_port == 0) {
    if (running.server != nullptr) running.server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, ": address already in use (or not permitted)"));
  }
  running.address = BoundAddress(listen, selected_port);
  return running;
}

}  // namespace batchd::server
