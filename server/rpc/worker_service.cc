#include "server/rpc/worker_service.h"

#include "server/convert/status_convert.h"
#include "server/convert/worker_convert.h"
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

grpc::ServerUnaryReactor* WorkerService::ListWorkers(grpc::CallbackServerContext* context,
                                                     const v1::ListWorkersRequest* /*request*/,
                                                     v1::ListWorkersResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The hub answers on the scheduler's strand, which only hands the copy over.
  hub_.ListWorkers([this, reactor, response](std::vector<core::WorkerSnapshot> workers) {
    conversions_.Post([reactor, response, workers = std::move(workers)] {
      response->mutable_workers()->Reserve(static_cast<int>(workers.size()));
      for (const core::WorkerSnapshot& w : workers) {
        WorkerSnapshotToProto(w, response->add_workers());
      }
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

}  // namespace batchd::server
