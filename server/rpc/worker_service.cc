#include "server/rpc/worker_service.h"

#include "server/convert/status_convert.h"
#include "server/rpc/finished_reactor.h"
#include "server/rpc/worker_stream.h"

namespace batchd::server {

grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse>* WorkerService::Connect(
    grpc::CallbackServerContext* context) {
  if (auto* rejected = auth_.RejectBidi<v1::ConnectRequest, v1::ConnectResponse>(context)) {
    return rejected;
  }
  absl::StatusOr<StreamLimiter::Lease> lease = streams_.Acquire(context->peer());
  if (!lease.ok()) {
    return FinishedBidi<v1::ConnectRequest, v1::ConnectResponse>(ToGrpcStatus(lease.status()));
  }
  return new WorkerStream(context, hub_, conversions_, *std::move(lease));
}

}  // namespace batchd::server
