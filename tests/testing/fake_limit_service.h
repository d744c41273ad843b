// A scripted LimitService for tests of clients (batchctl limits): every call answers what the
// test put in the script and is recorded in the CallLog shared with FakeBatchService.
// Thread-safe as FakeBatchService is (the script is edited under the lock the handlers take).
// Header-only; link gRPC and the generated batchd protos.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "batchd/v1/limit_service.grpc.pb.h"
#include "tests/testing/call_log.h"

namespace batchd::testing {

class FakeLimitService final : public batchd::v1::LimitService::CallbackService {
 public:
  explicit FakeLimitService(CallLog& log) : log_(log) {}

  struct Script {
    grpc::Status status;  // ends every call
    batchd::v1::SetLimitResponse set;
    batchd::v1::ListLimitsResponse list;
  };
  class LockedScript {
   public:
    LockedScript(absl::Mutex& mu, Script& script) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
        : lock_(&mu), script_(script) {}
    Script* operator->() { return &script_; }
    Script& operator*() { return script_; }

   private:
    absl::MutexLock lock_;
    Script& script_;
  };
  LockedScript script() ABSL_NO_THREAD_SAFETY_ANALYSIS { return LockedScript(mu_, script_); }

  grpc::ServerUnaryReactor* SetLimit(grpc::CallbackServerContext* c,
                                     const batchd::v1::SetLimitRequest* request,
                                     batchd::v1::SetLimitResponse* response) override {
    log_.Record("SetLimit", *request, *c);
    absl::MutexLock lock(&mu_);
    if (script_.status.ok()) *response = script_.set;
    return Finish(c, script_.status);
  }
  grpc::ServerUnaryReactor* ListLimits(grpc::CallbackServerContext* c,
                                       const batchd::v1::ListLimitsRequest* request,
                                       batchd::v1::ListLimitsResponse* response) override {
    log_.Record("ListLimits", *request, *c);
    absl::MutexLock lock(&mu_);
    if (script_.status.ok()) *response = script_.list;
    return Finish(c, script_.status);
  }
  grpc::ServerUnaryReactor* DeleteLimit(grpc::CallbackServerContext* c,
                                        const batchd::v1::DeleteLimitRequest* request,
                                        batchd::v1::DeleteLimitResponse* /*response*/) override {
    log_.Record("DeleteLimit", *request, *c);
    absl::MutexLock lock(&mu_);
    return Finish(c, script_.status);
  }

 private:
  static grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* c, grpc::Status status) {
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    reactor->Finish(std::move(status));
    return reactor;
  }

  absl::Mutex mu_;
  Script script_ ABSL_GUARDED_BY(mu_);
  CallLog& log_;
};

}  // namespace batchd::testing
