// A callback-API reactor that finishes its call at once with a fixed status: for RPCs the
// daemon cannot serve yet, with a message saying why (gRPC's own stand-in has no message).
// Owned by gRPC from creation until OnDone. FinishUnary does the same for a unary call.
#pragma once

#include <grpcpp/server_context.h>
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

// The unary call's default reactor, finished with `status` (a refusal before any work).
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                             grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

}  // namespace batchd::server
