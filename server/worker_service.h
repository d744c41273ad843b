// batchd.v1.WorkerService: the endpoint worker processes connect to. A placeholder until
// callback workers land: Connect answers UNIMPLEMENTED. Stateless; thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include "batchd/v1/worker_service.grpc.pb.h"

namespace batchd::server {

class WorkerService final : public v1::WorkerService::CallbackService {
 public:
  grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse>* Connect(
      grpc::CallbackServerContext* context) override;
};

}  // namespace batchd::server
