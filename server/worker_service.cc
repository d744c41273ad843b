#include "server/worker_service.h"

#include "server/worker_stream.h"

namespace batchd::server {

grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse>* WorkerService::Connect(
    grpc::CallbackServerContext* /*context*/) {
  return new WorkerStream(hub_);
}

}  // namespace batchd::server
