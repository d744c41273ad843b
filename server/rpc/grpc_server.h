// Starts the daemon's gRPC server on one address with the given services and server
// reflection, and reports the address actually bound (port 0 = any free port).
// Call from one thread; the returned server is thread-safe as grpc::Server is.
#pragma once

#include <grpcpp/impl/service_type.h>
#include <grpcpp/server.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/flags/security_flags.h"

namespace batchd::server {

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  std::string address;  // as `listen`, with the port the OS chose
};

// UNAVAILABLE "cannot listen on <listen>: address already in use (or not permitted)" when the
// address cannot be bound; the port is never shared (SO_REUSEPORT off). `services` must outlive
// the server.
struct ServerTuning {
  // Bounds one received message (a whole batch travels in one).
  int max_request_bytes = 64 << 20;
  // Server pings after this much idle time keep long streams alive; clients may ping as often
  // as every 10 s without being disconnected.
  absl::Duration keepalive_time = absl::Seconds(60);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
};

// `security` picks plaintext or TLS (mTLS with a client CA). For unix:/path, a stale socket file
// is replaced (never a live daemon's socket or a non-socket file: UNAVAILABLE naming the path)
// and the socket gets security.unix_socket_mode once bound.
absl::StatusOr<RunningServer> StartGrpcServer(const std::string& listen,
                                              absl::Span<grpc::Service* const> services,
                                              ServerTuning tuning = {},
                                              const SecurityOptions& security = {});

}  // namespace batchd::server
