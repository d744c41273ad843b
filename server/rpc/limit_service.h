// batchd.v1.LimitService on gRPC's callback API: shared limits by key (core/limits) set, listed
// and deleted at run time through the scheduler, which owns them on its strand. Reactors never
// block: the scheduler's callbacks hand their values to the conversion pool, which converts and
// finishes the call. Thread-safe (no mutable state of its own).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "batchd/v1/limit_service.grpc.pb.h"
#include "core/scheduling/scheduler.h"
#include "core/time/clock.h"
#include "server/rpc/auth_check.h"
#include "server/rpc/conversion_pool.h"

namespace batchd::server {

class LimitService final : public v1::LimitService::CallbackService {
 public:
  // `clock` turns a key's pause (steady time) into the wall time answers carry: the
  // scheduler's. Everything passed must outlive the service (`conversions` runs its calls'
  // jobs, so it is joined after the server's Wait).
  LimitService(core::Scheduler& scheduler, const core::Clock& clock, const AuthCheck& auth,
               ConversionPool& conversions);

  // INVALID_ARGUMENT with field violations under "limit." (e.g. "limit.rates[0].period").
  grpc::ServerUnaryReactor* SetLimit(grpc::CallbackServerContext* context,
                                     const v1::SetLimitRequest* request,
                                     v1::SetLimitResponse* response) override;
  grpc::ServerUnaryReactor* ListLimits(grpc::CallbackServerContext* context,
                                       const v1::ListLimitsRequest* request,
                                       v1::ListLimitsResponse* response) override;
  // INVALID_ARGUMENT at "key" for an empty key; NOT_FOUND for a key not configured.
  grpc::ServerUnaryReactor* DeleteLimit(grpc::CallbackServerContext* context,
                                        const v1::DeleteLimitRequest* request,
                                        v1::DeleteLimitResponse* response) override;

 private:
  core::Scheduler& scheduler_;
  const core::Clock& clock_;
  const AuthCheck& auth_;
  ConversionPool& conversions_;
};

}  // namespace batchd::server
