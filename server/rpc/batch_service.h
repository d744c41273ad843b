// batchd.v1.BatchService on gRPC's callback API: converts requests to core values, calls core
// (the scheduler for everything about batches), converts the answer back and finishes.
// Reactors never block: scheduler calls complete them later; the scheduler's callbacks (on its
// strand) only hand their values to the conversion pool, which converts and finishes the call.
// Thread-safe (no mutable state of its own).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "batchd/v1/batch_service.grpc.pb.h"
#include "core/executors/executor_registry.h"
#include "core/scheduling/scheduler.h"
#include "server/rpc/auth_check.h"
#include "server/rpc/conversion_pool.h"
#include "server/rpc/request_limits.h"
#include "server/rpc/stream_limiter.h"

namespace batchd::server {

class BatchService final : public v1::BatchService::CallbackService {
 public:
  // `auth` is checked first by every handler; it, `streams` and `conversions` must outlive the
  // service (`conversions` runs its calls' jobs, so it is joined after the server's Wait).
  BatchService(core::Scheduler& scheduler, const core::ExecutorRegistry& registry,
               StreamLimiter& streams, const AuthCheck& auth, ConversionPool& conversions,
               RequestLimits limits = {});

  grpc::ServerUnaryReactor* SubmitBatch(grpc::CallbackServerContext* context,
                                        const v1::SubmitBatchRequest* request,
                                        v1::SubmitBatchResponse* response) override;
  grpc::ServerUnaryReactor* ProcessBatch(grpc::CallbackServerContext* context,
                                         const v1::ProcessBatchRequest* request,
                                         v1::ProcessBatchResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamResultsResponse>* StreamResults(
      grpc::CallbackServerContext* context, const v1::StreamResultsRequest* request) override;
  grpc::ServerWriteReactor<v1::StreamTaskOutputResponse>* StreamTaskOutput(
      grpc::CallbackServerContext* context, const v1::StreamTaskOutputRequest* request) override;
  grpc::ServerUnaryReactor* GetProgress(grpc::CallbackServerContext* context,
                                        const v1::GetProgressRequest* request,
                                        v1::GetProgressResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchProgressResponse>* WatchProgress(
      grpc::CallbackServerContext* context, const v1::WatchProgressRequest* request) override;
  grpc::ServerUnaryReactor* GetBatch(grpc::CallbackServerContext* context,
                                     const v1::GetBatchRequest* request,
                                     v1::GetBatchResponse* response) override;
  grpc::ServerUnaryReactor* ListBatches(grpc::CallbackServerContext* context,
                                        const v1::ListBatchesRequest* request,
                                        v1::ListBatchesResponse* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const v1::ListTasksRequest* request,
                                      v1::ListTasksResponse* response) override;
  grpc::ServerUnaryReactor* CancelBatch(grpc::CallbackServerContext* context,
                                        const v1::CancelBatchRequest* request,
                                        v1::CancelBatchResponse* response) override;
  grpc::ServerUnaryReactor* AddTasks(grpc::CallbackServerContext* context,
                                     const v1::AddTasksRequest* request,
                                     v1::AddTasksResponse* response) override;
  grpc::ServerUnaryReactor* CloseBatch(grpc::CallbackServerContext* context,
                                       const v1::CloseBatchRequest* request,
                                       v1::CloseBatchResponse* response) override;
  grpc::ServerUnaryReactor* CancelTask(grpc::CallbackServerContext* context,
                                       const v1::CancelTaskRequest* request,
                                       v1::CancelTaskResponse* response) override;
  grpc::ServerUnaryReactor* CompleteTask(grpc::CallbackServerContext* context,
                                         const v1::CompleteTaskRequest* request,
                                         v1::CompleteTaskResponse* response) override;
  grpc::ServerUnaryReactor* ResolveExecutionOrder(
      grpc::CallbackServerContext* context, const v1::ResolveExecutionOrderRequest* request,
      v1::ResolveExecutionOrderResponse* response) override;
  grpc::ServerUnaryReactor* AssignTasks(grpc::CallbackServerContext* context,
                                        const v1::AssignTasksRequest* request,
                                        v1::AssignTasksResponse* response) override;
  grpc::ServerUnaryReactor* ListExecutors(grpc::CallbackServerContext* context,
                                          const v1::ListExecutorsRequest* request,
                                          v1::ListExecutorsResponse* response) override;

 private:
  core::Scheduler& scheduler_;
  const core::ExecutorRegistry& registry_;
  StreamLimiter& streams_;
  const AuthCheck& auth_;
  ConversionPool& conversions_;
  const RequestLimits limits_;
};

}  // namespace batchd::server
