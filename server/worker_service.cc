#include "server/worker_service.h"

#include "server/finished_reactor.h"

namespace batchd::server {

grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse>* WorkerService::Connect(
    grpc::CallbackServerContext* /*context*/) {
  return FinishedBidi<v1::ConnectRequest, v1::ConnectResponse>(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "WorkerService.Connect is not available yet"));
}

}  // namespace batchd::server
