// batchd.v1.WorkerService: the endpoint callback workers connect to. Each Connect stream is a
// WorkerStream feeding the WorkerHub. Thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include "batchd/v1/worker_service.grpc.pb.h"
#include "core/worker_hub.h"

namespace batchd::server {

class WorkerService final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerService(core::WorkerHub& hub) : hub_(hub) {}

  grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse>* Connect(
      grpc::CallbackServerContext* context) override;

 private:
  core::WorkerHub& hub_;
};

}  // namespace batchd::server
