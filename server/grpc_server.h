// Starts the daemon's gRPC server on one address with the given services and server
// reflection, and reports the address actually bound (port 0 = any free port).
// Call from one thread; the returned server is thread-safe as grpc::Server is.
#pragma once

#include <grpcpp/impl/service_type.h>
#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace batchd::server {

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  std::string address;  // as `listen`, with the port the OS chose
};

// UNAVAILABLE "cannot listen on <listen>: address already in use (or not permitted)" when the
// address cannot be bound; the port is never shared (SO_REUSEPORT off). `services` must outlive
// the server.
// `max_request_bytes` bounds one received message (a whole batch travels in one).
absl::StatusOr<RunningServer> StartGrpcServer(const std::string& listen,
                                              absl::Span<grpc::Service* const> services,
                                              int max_request_bytes = 64 << 20);

}  // namespace batchd::server
