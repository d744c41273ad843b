// A callback-API reactor that finishes its call at once with a fixed status: for RPCs the
// daemon cannot serve yet, with a message saying why (gRPC's own stand-in has no message).
// Owned by gRPC from creation until OnDone.
#pragma once

#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <utility>

namespace batchd::server {

template <typename Reactor>
class FinishedReactor final : public Reactor {
 public:
  explicit FinishedReactor(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

template <typename Response>
grpc::ServerWriteReactor<Response>* FinishedWriter(grpc::Status status) {
  return new FinishedReactor<grpc::ServerWriteReactor<Response>>(std::move(status));
}

template <typename Request, typename Response>
grpc::ServerBidiReactor<Request, Response>* FinishedBidi(grpc::Status status) {
  return new FinishedReactor<grpc::ServerBidiReactor<Request, Response>>(std::move(status));
}

}  // namespace batchd::server
