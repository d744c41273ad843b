// Synchronous batchd client: the BatchService, LimitService, CacheService and Health stubs with
// per-call deadlines, and server streams delivered to callbacks. Thread-safe (the stubs are);
// callbacks run on the calling thread before the call returns.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "batchd/v1/cache_service.grpc.pb.h"
#include "batchd/v1/limit_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace batchd::client {

// InfiniteDuration() = no deadline.
struct CallTimeouts {
  absl::Duration unary = absl::Seconds(10);
  // ProcessBatch lasts as long as the batch, so by default it has no deadline.
  absl::Duration process_batch = absl::InfiniteDuration();
  // Short, so a health probe fails fast when the daemon hangs.
  absl::Duration health = absl::Seconds(3);
};

class BatchClient {
 public:
  using ProgressCallback = std::function<void(const batchd::v1::BatchProgress&)>;
  using ResultsCallback = std::function<void(const batchd::v1::StreamResultsResponse&)>;
  using OutputCallback = std::function<void(const batchd::v1::StreamTaskOutputResponse&)>;

  BatchClient(const std::shared_ptr<grpc::Channel>& channel, CallTimeouts timeouts);
  // For tests: any stub implementations (e.g. mocks). Without `limit_stub` (`cache_stub`) the
  // LimitService (CacheService) calls are UNIMPLEMENTED.
  BatchClient(std::unique_ptr<batchd::v1::BatchService::StubInterface> batch_stub,
              std::unique_ptr<grpc::health::v1::Health::StubInterface> health_stub,
              CallTimeouts timeouts,
              std::unique_ptr<batchd::v1::LimitService::StubInterface> limit_stub = nullptr,
              std::unique_ptr<batchd::v1::CacheService::StubInterface> cache_stub = nullptr);

  grpc::Status SubmitBatch(const batchd::v1::SubmitBatchRequest& request,
                           batchd::v1::SubmitBatchResponse* response) const;
  grpc::Status ProcessBatch(const batchd::v1::ProcessBatchRequest& request,
                            batchd::v1::ProcessBatchResponse* response) const;
  grpc::Status GetProgress(const batchd::v1::GetProgressRequest& request,
                           batchd::v1::GetProgressResponse* response) const;
  grpc::Status GetBatch(const batchd::v1::GetBatchRequest& request,
                        batchd::v1::GetBatchResponse* response) const;
  grpc::Status ListBatches(const batchd::v1::ListBatchesRequest& request,
                           batchd::v1::ListBatchesResponse* response) const;
  grpc::Status ListTasks(const batchd::v1::ListTasksRequest& request,
                         batchd::v1::ListTasksResponse* response) const;
  grpc::Status CancelBatch(const batchd::v1::CancelBatchRequest& request,
                           batchd::v1::CancelBatchResponse* response) const;
  grpc::Status AddTasks(const batchd::v1::AddTasksRequest& request,
                        batchd::v1::AddTasksResponse* response) const;
  grpc::Status CloseBatch(const batchd::v1::CloseBatchRequest& request,
                          batchd::v1::CloseBatchResponse* response) const;
  grpc::Status CancelTask(const batchd::v1::CancelTaskRequest& request,
                          batchd::v1::CancelTaskResponse* response) const;
  grpc::Status CompleteTask(const batchd::v1::CompleteTaskRequest& request,
                            batchd::v1::CompleteTaskResponse* response) const;
  grpc::Status ResolveExecutionOrder(const batchd::v1::ResolveExecutionOrderRequest& request,
                                     batchd::v1::ResolveExecutionOrderResponse* response) const;
  grpc::Status ListExecutors(const batchd::v1::ListExecutorsRequest& request,
                             batchd::v1::ListExecutorsResponse* response) const;

  // LimitService: shared limits by key.
  grpc::Status SetLimit(const batchd::v1::SetLimitRequest& request,
                        batchd::v1::SetLimitResponse* response) const;
  grpc::Status ListLimits(const batchd::v1::ListLimitsRequest& request,
                          batchd::v1::ListLimitsResponse* response) const;
  grpc::Status DeleteLimit(const batchd::v1::DeleteLimitRequest& request,
                           batchd::v1::DeleteLimitResponse* response) const;

  // CacheService: the result cache.
  grpc::Status InvalidateCache(const batchd::v1::InvalidateCacheRequest& request,
                               batchd::v1::InvalidateCacheResponse* response) const;
  grpc::Status GetCacheStats(const batchd::v1::GetCacheStatsRequest& request,
                             batchd::v1::GetCacheStatsResponse* response) const;

  // Calls `on_progress` for every update until the stream ends; no deadline.
  grpc::Status WatchProgress(const batchd::v1::WatchProgressRequest& request,
                             const ProgressCallback& on_progress) const;
  // Calls `on_message` for every message (the last one carries the summary); no deadline.
  grpc::Status StreamResults(const batchd::v1::StreamResultsRequest& request,
                             const ResultsCallback& on_message) const;
  // Calls `on_message` for every message of a task's output (the last one carries its result);
  // no deadline.
  grpc::Status StreamTaskOutput(const batchd::v1::StreamTaskOutputRequest& request,
                                const OutputCallback& on_message) const;

  // grpc.health.v1.Health/Check for `service` ("" = the daemon as a whole).
  grpc::Status CheckHealth(const std::string& service,
                           grpc::health::v1::HealthCheckResponse* response) const;

 private:
  std::unique_ptr<batchd::v1::BatchService::StubInterface> batch_stub_;
  std::unique_ptr<grpc::health::v1::Health::StubInterface> health_stub_;
  std::unique_ptr<batchd::v1::LimitService::StubInterface> limit_stub_;  // may be null
  std::unique_ptr<batchd::v1::CacheService::StubInterface> cache_stub_;  // may be null
  CallTimeouts timeouts_;
};

}  // namespace batchd::client
