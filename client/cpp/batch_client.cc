#include "client/cpp/batch_client.h"

#include <grpcpp/client_context.h>

#include <chrono>
#include <utility>

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using BatchStub = v1::BatchService::StubInterface;
using LimitStub = v1::LimitService::StubInterface;
using CacheStub = v1::CacheService::StubInterface;

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

template <typename Stub, typename Request, typename Response>
grpc::Status CallUnary(Stub& stub,
                       grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                    Response*),
                       const Request& request, Response* response, absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  return (stub.*method)(&context, request, response);
}

template <typename Message, typename Callback>
grpc::Status ReadAll(grpc::ClientReaderInterface<Message>& reader, const Callback& on_message) {
  Message message;
  while (reader.Read(&message)) on_message(message);
  return reader.Finish();
}

grpc::Status NoLimitService() {
  return {grpc::StatusCode::UNIMPLEMENTED, "this client has no LimitService stub"};
}

grpc::Status NoCacheService() {
  return {grpc::StatusCode::UNIMPLEMENTED, "this client has no CacheService stub"};
}

}  // namespace

BatchClient::BatchClient(const std::shared_ptr<grpc::Channel>& channel, CallTimeouts timeouts)
    : BatchClient(v1::BatchService::NewStub(channel), grpc::health::v1::Health::NewStub(channel),
                  timeouts, v1::LimitService::NewStub(channel),
                  v1::CacheService::NewStub(channel)) {}

BatchClient::BatchClient(std::unique_ptr<BatchStub> batch_stub,
                         std::unique_ptr<grpc::health::v1::Health::StubInterface> health_stub,
                         CallTimeouts timeouts, std::unique_ptr<LimitStub> limit_stub,
                         std::unique_ptr<CacheStub> cache_stub)
    : batch_stub_(std::move(batch_stub)),
      health_stub_(std::move(health_stub)),
      limit_stub_(std::move(limit_stub)),
      cache_stub_(std::move(cache_stub)),
      timeouts_(timeouts) {}

grpc::Status BatchClient::SetLimit(const v1::SetLimitRequest& request,
                                   v1::SetLimitResponse* response) const {
  if (limit_stub_ == nullptr) return NoLimitService();
  return CallUnary(*limit_stub_, &LimitStub::SetLimit, request, response, timeouts_.unary);
}

grpc::Status BatchClient::ListLimits(const v1::ListLimitsRequest& request,
                                     v1::ListLimitsResponse* response) const {
  if (limit_stub_ == nullptr) return NoLimitService();
  return CallUnary(*limit_stub_, &LimitStub::ListLimits, request, response, timeouts_.unary);
}

grpc::Status BatchClient::DeleteLimit(const v1::DeleteLimitRequest& request,
                                      v1::DeleteLimitResponse* response) const {
  if (limit_stub_ == nullptr) return NoLimitService();
  return CallUnary(*limit_stub_, &LimitStub::DeleteLimit, request, response, timeouts_.unary);
}

grpc::Status BatchClient::InvalidateCache(const v1::InvalidateCacheRequest& request,
                                          v1::InvalidateCacheResponse* response) const {
  if (cache_stub_ == nullptr) return NoCacheService();
  return CallUnary(*cache_stub_, &CacheStub::InvalidateCache, request, response, timeouts_.unary);
}

grpc::Status BatchClient::GetCacheStats(const v1::GetCacheStatsRequest& request,
                                        v1::GetCacheStatsResponse* response) const {
  if (cache_stub_ == nullptr) return NoCacheService();
  return CallUnary(*cache_stub_, &CacheStub::GetCacheStats, request, response, timeouts_.unary);
}

grpc::Status BatchClient::SubmitBatch(const v1::SubmitBatchRequest& request,
                                      v1::SubmitBatchResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::SubmitBatch, request, response, timeouts_.unary);
}

grpc::Status BatchClient::ProcessBatch(const v1::ProcessBatchRequest& request,
                                       v1::ProcessBatchResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::ProcessBatch, request, response,
                   timeouts_.process_batch);
}

grpc::Status BatchClient::GetProgress(const v1::GetProgressRequest& request,
                                      v1::GetProgressResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::GetProgress, request, response, timeouts_.unary);
}

grpc::Status BatchClient::GetBatch(const v1::GetBatchRequest& request,
                                   v1::GetBatchResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::GetBatch, request, response, timeouts_.unary);
}

grpc::Status BatchClient::ListBatches(const v1::ListBatchesRequest& request,
                                      v1::ListBatchesResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::ListBatches, request, response, timeouts_.unary);
}

grpc::Status BatchClient::ListTasks(const v1::ListTasksRequest& request,
                                    v1::ListTasksResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::ListTasks, request, response, timeouts_.unary);
}

grpc::Status BatchClient::CancelBatch(const v1::CancelBatchRequest& request,
                                      v1::CancelBatchResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::CancelBatch, request, response, timeouts_.unary);
}

grpc::Status BatchClient::AddTasks(const v1::AddTasksRequest& request,
                                   v1::AddTasksResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::AddTasks, request, response, timeouts_.unary);
}

grpc::Status BatchClient::CloseBatch(const v1::CloseBatchRequest& request,
                                     v1::CloseBatchResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::CloseBatch, request, response, timeouts_.unary);
}

grpc::Status BatchClient::CancelTask(const v1::CancelTaskRequest& request,
                                     v1::CancelTaskResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::CancelTask, request, response, timeouts_.unary);
}

grpc::Status BatchClient::CompleteTask(const v1::CompleteTaskRequest& request,
                                       v1::CompleteTaskResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::CompleteTask, request, response, timeouts_.unary);
}

grpc::Status BatchClient::ResolveExecutionOrder(const v1::ResolveExecutionOrderRequest& request,
                                                v1::ResolveExecutionOrderResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::ResolveExecutionOrder, request, response,
                   timeouts_.unary);
}

grpc::Status BatchClient::ListExecutors(const v1::ListExecutorsRequest& request,
                                        v1::ListExecutorsResponse* response) const {
  return CallUnary(*batch_stub_, &BatchStub::ListExecutors, request, response, timeouts_.unary);
}

grpc::Status BatchClient::WatchProgress(const v1::WatchProgressRequest& request,
                                        const ProgressCallback& on_progress) const {
  grpc::ClientContext context;
  auto reader = batch_stub_->WatchProgress(&context, request);
  return ReadAll(
      *reader, [&](const v1::WatchProgressResponse& message) { on_progress(message.progress()); });
}

grpc::Status BatchClient::StreamResults(const v1::StreamResultsRequest& request,
                                        const ResultsCallback& on_message) const {
  grpc::ClientContext context;
  auto reader = batch_stub_->StreamResults(&context, request);
  return ReadAll(*reader, on_message);
}

grpc::Status BatchClient::StreamTaskOutput(const v1::StreamTaskOutputRequest& request,
                                           const OutputCallback& on_message) const {
  grpc::ClientContext context;
  auto reader = batch_stub_->StreamTaskOutput(&context, request);
  return ReadAll(*reader, on_message);
}

grpc::Status BatchClient::CheckHealth(const std::string& service,
                                      grpc::health::v1::HealthCheckResponse* response) const {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  return CallUnary(*health_stub_, &grpc::health::v1::Health::StubInterface::Check, request,
                   response, timeouts_.health);
}

}  // namespace batchd::client
