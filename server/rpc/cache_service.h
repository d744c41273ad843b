// batchd.v1.CacheService on gRPC's callback API: invalidation and statistics of the result cache
// the scheduler owns on its strand (core/scheduling/cache_gate.h). Reactors never block: the
// scheduler's callbacks finish the call. Thread-safe (no mutable state of its own).
#pragma once

#include <grpcpp/grpcpp.h>

#include "batchd/v1/cache_service.grpc.pb.h"
#include "core/scheduling/scheduler.h"
#include "server/rpc/auth_check.h"

namespace batchd::server {

class CacheService final : public v1::CacheService::CallbackService {
 public:
  // Both must outlive the service.
  CacheService(core::Scheduler& scheduler, const AuthCheck& auth)
      : scheduler_(scheduler), auth_(auth) {}

  // INVALID_ARGUMENT naming the field: no scope, an empty key, a key or namespace over 1 KiB.
  grpc::ServerUnaryReactor* InvalidateCache(grpc::CallbackServerContext* context,
                                            const v1::InvalidateCacheRequest* request,
                                            v1::InvalidateCacheResponse* response) override;
  grpc::ServerUnaryReactor* GetCacheStats(grpc::CallbackServerContext* context,
                                          const v1::GetCacheStatsRequest* request,
                                          v1::GetCacheStatsResponse* response) override;

 private:
  core::Scheduler& scheduler_;
  const AuthCheck& auth_;
};

}  // namespace batchd::server
