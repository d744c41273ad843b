// batchd.v1.WorkerService: the endpoint callback workers connect to. Each Connect stream is a
// WorkerStream feeding the WorkerHub; ListWorkers reports the hub's snapshot, converted on the
// conversion pool. Thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include "batchd/v1/worker_service.grpc.pb.h"
#include "core/workers/worker_hub.h"
#include "server/rpc/auth_check.h"
#include "server/rpc/conversion_pool.h"
#include "server/rpc/stream_limiter.h"

namespace batchd::server {

class WorkerService final : public v1::WorkerService::CallbackService {
 public:
  // `auth` is checked first on every call; it, `streams` and `conversions` must outlive the
  // service (`conversions` runs its streams' jobs, so it is joined after the server's Wait).
  WorkerService(core::WorkerHub& hub, StreamLimiter& streams, const AuthCheck& auth,
                ConversionPool& conversions)
      : hub_(hub), streams_(streams), auth_(auth), conversions_(conversions) {}

  grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse>* Connect(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;

 private:
  core::WorkerHub& hub_;
  StreamLimiter& streams_;
  const AuthCheck& auth_;
  ConversionPool& conversions_;
};

}  // namespace batchd::server
