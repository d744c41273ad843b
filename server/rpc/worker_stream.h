// One worker's WorkerService.Connect stream: reads registration, outcomes, heartbeats and cancel
// acks and hands them to the WorkerHub; writes what the hub sends, converted off the
// scheduler's strand (on the conversion pool and gRPC's threads), packing everything queued
// while a write is in flight into the next message. The reactor is owned by gRPC until OnDone;
// its WorkerConnection side is shared with the hub and outlives it (sends after the end are
// dropped). Thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "batchd/v1/worker_service.grpc.pb.h"
#include "core/workers/worker_connection.h"
#include "core/workers/worker_hub.h"
#include "server/rpc/conversion_pool.h"
#include "server/rpc/stream_limiter.h"

namespace batchd::server {

class WorkerStream final : public grpc::ServerBidiReactor<v1::ConnectRequest, v1::ConnectResponse> {
 public:
  // `context` is the call's, valid until OnDone; `conversions` must outlive the call.
  WorkerStream(grpc::CallbackServerContext* context, core::WorkerHub& hub,
               ConversionPool& conversions, StreamLimiter::Lease lease);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  class Connection;

  void HandleFirstMessage();

  grpc::CallbackServerContext* const context_;
  core::WorkerHub& hub_;
  std::shared_ptr<Connection> connection_;
  v1::ConnectRequest request_;
  bool registered_ = false;  // touched only by the read chain
  StreamLimiter::Lease lease_;
};

}  // namespace batchd::server
