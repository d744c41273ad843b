#include "server/rpc/batch_service.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/status_macros.h"
#include "core/graph/task_assignment.h"
#include "core/graph/task_graph.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"
#include "server/convert/listing_convert.h"
#include "server/convert/proto_convert.h"
#include "server/convert/result_convert.h"
#include "server/convert/status_convert.h"
#include "server/journal/batch_record_codec.h"
#include "server/rpc/batch_request.h"
#include "server/rpc/finished_reactor.h"
#include "server/rpc/progress_stream.h"
#include "server/rpc/result_stream.h"
#include "server/rpc/task_output_stream.h"

namespace batchd::server {
namespace {

constexpr uint32_t kDefaultProgressIntervalMs = 100;

absl::Status ResolveOrder(const v1::ResolveExecutionOrderRequest& request,
                          v1::ResolveExecutionOrderResponse* response) {
  ASSIGN_OR_RETURN(const std::vector<core::TaskSpec> tasks, TasksFromProto(request.tasks()));
  ASSIGN_OR_RETURN(const core::TaskGraph graph, core::TaskGraph::Build(tasks));
  LayersToProto(graph.Layers(), tasks, response->mutable_layers());
  TaskIdsToProto(graph.CriticalPath(), tasks, response->mutable_critical_path());
  return absl::OkStatus();
}

absl::Status Assign(const v1::AssignTasksRequest& request, v1::AssignTasksResponse* response) {
  ASSIGN_OR_RETURN(const std::vector<core::TaskSpec> tasks, TasksFromProto(request.tasks()));
  ASSIGN_OR_RETURN(const core::LoadBalancerKind strategy,
                   LoadBalancerFromProto(request.strategy(), "strategy"));
  ASSIGN_OR_RETURN(const std::vector<std::vector<uint32_t>> assignments,
                   core::AssignTasks(tasks, request.workers(), strategy, request.seed()));
  LayersToProto(assignments, tasks, response->mutable_assignments());
  return absl::OkStatus();
}

// Whether SubmitBatch's answer lists the layers: only while the task ids fit in
// kMaxLayersAnswerBytes (each id costs its bytes and about 3 bytes of framing).
constexpr size_t kMaxLayersAnswerBytes = size_t{1} << 20;

bool LayersFitInAnswer(const google::protobuf::RepeatedPtrField<v1::Task>& tasks) {
  size_t bytes = 0;
  for (const v1::Task& task : tasks) {
    bytes += task.id().size() + 3;
    if (bytes > kMaxLayersAnswerBytes) return false;
  }
  return true;
}

// What the journal keeps and idempotent submission compares; skipped when neither needs it.
template <typename Request>
std::string ContentFor(const core::Scheduler& scheduler, const Request& request) {
  if (!scheduler.journaled() && request.request_id().empty()) return {};
  return EncodeBatchContent(request);
}

// Every call naming a batch refuses an empty id here: no batch has one, and NOT_FOUND
// "Batch '' not found" would hide that the field was never set (a misspelt JSON key, say).
absl::Status CheckBatchId(const std::string& batch_id) {
  if (batch_id.empty()) return core::InvalidField("batch_id", "batch_id is empty");
  return absl::OkStatus();
}

// For the scheduler's callbacks, which run on its strand (or the journal's thread): they hand
// their value over, and the conversion pool converts it and finishes the call (Finish
// serialises the answer). `fill` returns the call's status.
template <typename Value, typename Fill>
void ConvertAndFinish(ConversionPool& conversions, grpc::ServerUnaryReactor* reactor,
                      absl::StatusOr<Value> value, Fill fill) {
  conversions.Post([reactor, value = std::move(value), fill = std::move(fill)]() mutable {
    if (!value.ok()) return reactor->Finish(ToGrpcStatus(value.status()));
    reactor->Finish(fill(*value));
  });
}

void FinishOnPool(ConversionPool& conversions, grpc::ServerUnaryReactor* reactor,
                  const absl::Status& status) {
  conversions.Post([reactor, status = ToGrpcStatus(status)] { reactor->Finish(status); });
}

// `response` has a `progress` field (GetProgress, CancelBatch).
template <typename Response>
void FinishWithProgress(ConversionPool& conversions, grpc::ServerUnaryReactor* reactor,
                        absl::StatusOr<core::BatchProgress> progress, Response* response) {
  ConvertAndFinish(conversions, reactor, std::move(progress),
                   [response](const core::BatchProgress& p) {
                     BatchProgressToProto(p, response->mutable_progress());
                     return grpc::Status::OK;
                   });
}

// `response` has a `summary` field (ProcessBatch, GetBatch).
template <typename Response>
void FinishWithSummary(ConversionPool& conversions, grpc::ServerUnaryReactor* reactor,
                       absl::StatusOr<core::BatchSummary> summary, Response* response) {
  ConvertAndFinish(conversions, reactor, std::move(summary),
                   [response](const core::BatchSummary& s) {
                     BatchSummaryToProto(s, /*include_results=*/true, response->mutable_summary());
                     return grpc::Status::OK;
                   });
}

}  // namespace

BatchService::BatchService(core::Scheduler& scheduler, const core::ExecutorRegistry& registry,
                           StreamLimiter& streams, const AuthCheck& auth,
                           ConversionPool& conversions, RequestLimits limits)
    : scheduler_(scheduler),
      registry_(registry),
      streams_(streams),
      auth_(auth),
      conversions_(conversions),
      limits_(limits) {}

grpc::ServerUnaryReactor* BatchService::SubmitBatch(grpc::CallbackServerContext* context,
                                                    const v1::SubmitBatchRequest* request,
                                                    v1::SubmitBatchResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromRequest(*request, limits_, registry_);
  if (!spec.ok()) return FinishUnary(context, ToGrpcStatus(spec.status()));
  const bool with_layers = LayersFitInAnswer(request->tasks());
  absl::StatusOr<core::SubmitResult> submitted =
      scheduler_.Submit(*std::move(spec), with_layers, ContentFor(scheduler_, *request));
  if (!submitted.ok()) return FinishUnary(context, ToGrpcStatus(submitted.status()));
  response->set_batch_id(submitted->batch_id);
  if (with_layers) {
    LayerIdsToProto(submitted->layers, response->mutable_layers());
  } else {
    response->set_layers_omitted(true);
  }
  // Answer only once the batch is durably recorded.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.WhenDurable(*submitted, [this, reactor](absl::Status durable) {
    FinishOnPool(conversions_, reactor, durable);  // the answer may list many layers
  });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::ProcessBatch(grpc::CallbackServerContext* context,
                                                     const v1::ProcessBatchRequest* request,
                                                     v1::ProcessBatchResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromRequest(*request, limits_, registry_);
  if (!spec.ok()) return FinishUnary(context, ToGrpcStatus(spec.status()));
  absl::StatusOr<core::SubmitResult> submitted =
      scheduler_.Submit(*std::move(spec), /*with_layers=*/false, ContentFor(scheduler_, *request));
  if (!submitted.ok()) return FinishUnary(context, ToGrpcStatus(submitted.status()));
  response->set_batch_id(submitted->batch_id);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The batch exists in the scheduler only once it is durable (or never, when refused).
  scheduler_.WhenDurable(
      *submitted, [this, reactor, response, id = submitted->batch_id](absl::Status durable) {
        if (!durable.ok()) return FinishOnPool(conversions_, reactor, durable);
        scheduler_.WaitForCompletion(
            id, [this, reactor, response](absl::StatusOr<core::BatchSummary> summary) {
              FinishWithSummary(conversions_, reactor, std::move(summary), response);
            });
      });
  return reactor;
}

grpc::ServerWriteReactor<v1::StreamResultsResponse>* BatchService::StreamResults(
    grpc::CallbackServerContext* context, const v1::StreamResultsRequest* request) {
  if (auto* rejected = auth_.RejectWriter<v1::StreamResultsResponse>(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishedWriter<v1::StreamResultsResponse>(ToGrpcStatus(s));
  }
  absl::StatusOr<StreamLimiter::Lease> lease = streams_.Acquire(context->peer());
  if (!lease.ok()) {
    return FinishedWriter<v1::StreamResultsResponse>(ToGrpcStatus(lease.status()));
  }
  return ResultStream::Start(*std::move(lease), conversions_, scheduler_, request->batch_id(),
                             request->after_sequence());
}

grpc::ServerWriteReactor<v1::StreamTaskOutputResponse>* BatchService::StreamTaskOutput(
    grpc::CallbackServerContext* context, const v1::StreamTaskOutputRequest* request) {
  if (auto* rejected = auth_.RejectWriter<v1::StreamTaskOutputResponse>(context)) return rejected;
  absl::Status valid = CheckBatchId(request->batch_id());
  if (valid.ok() && request->task_id().empty()) {
    valid = core::InvalidField("task_id", "task_id is empty");
  }
  if (!valid.ok()) {
    return FinishedWriter<v1::StreamTaskOutputResponse>(ToGrpcStatus(valid));
  }
  absl::StatusOr<StreamLimiter::Lease> lease = streams_.Acquire(context->peer());
  if (!lease.ok()) {
    return FinishedWriter<v1::StreamTaskOutputResponse>(ToGrpcStatus(lease.status()));
  }
  return TaskOutputStream::Start(*std::move(lease), conversions_, scheduler_, request->batch_id(),
                                 request->task_id(), request->after_offset());
}

grpc::ServerUnaryReactor* BatchService::GetProgress(grpc::CallbackServerContext* context,
                                                    const v1::GetProgressRequest* request,
                                                    v1::GetProgressResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.GetProgress(request->batch_id(),
                         [this, reactor, response](absl::StatusOr<core::BatchProgress> progress) {
                           FinishWithProgress(conversions_, reactor, std::move(progress), response);
                         });
  return reactor;
}

grpc::ServerWriteReactor<v1::WatchProgressResponse>* BatchService::WatchProgress(
    grpc::CallbackServerContext* context, const v1::WatchProgressRequest* request) {
  if (auto* rejected = auth_.RejectWriter<v1::WatchProgressResponse>(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishedWriter<v1::WatchProgressResponse>(ToGrpcStatus(s));
  }
  absl::StatusOr<StreamLimiter::Lease> lease = streams_.Acquire(context->peer());
  if (!lease.ok()) {
    return FinishedWriter<v1::WatchProgressResponse>(ToGrpcStatus(lease.status()));
  }
  const core::Duration interval = std::chrono::milliseconds(
      request->min_interval_ms() == 0 ? kDefaultProgressIntervalMs : request->min_interval_ms());
  return ProgressStream::Start(*std::move(lease), conversions_, scheduler_, request->batch_id(),
                               interval);
}

grpc::ServerUnaryReactor* BatchService::GetBatch(grpc::CallbackServerContext* context,
                                                 const v1::GetBatchRequest* request,
                                                 v1::GetBatchResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.GetSummary(request->batch_id(),
                        [this, reactor, response](absl::StatusOr<core::BatchSummary> summary) {
                          FinishWithSummary(conversions_, reactor, std::move(summary), response);
                        });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::ListBatches(grpc::CallbackServerContext* context,
                                                    const v1::ListBatchesRequest* request,
                                                    v1::ListBatchesResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::StatusOr<core::BatchListQuery> query = BatchListQueryFromProto(*request);
  if (!query.ok()) return FinishUnary(context, ToGrpcStatus(query.status()));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.ListBatches(*std::move(query), [this, reactor, response](core::BatchPage page) {
    ConvertAndFinish(conversions_, reactor, absl::StatusOr<core::BatchPage>(std::move(page)),
                     [response](const core::BatchPage& p) {
                       BatchPageToProto(p, response);
                       return grpc::Status::OK;
                     });
  });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::ListTasks(grpc::CallbackServerContext* context,
                                                  const v1::ListTasksRequest* request,
                                                  v1::ListTasksResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  absl::StatusOr<core::TaskListQuery> query = TaskListQueryFromProto(*request);
  if (!query.ok()) return FinishUnary(context, ToGrpcStatus(query.status()));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.ListTasks(request->batch_id(), *std::move(query),
                       [this, reactor, response](absl::StatusOr<core::TaskPage> page) {
                         ConvertAndFinish(conversions_, reactor, std::move(page),
                                          [response](const core::TaskPage& p) {
                                            TaskPageToProto(p, response);
                                            return grpc::Status::OK;
                                          });
                       });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::CancelBatch(grpc::CallbackServerContext* context,
                                                    const v1::CancelBatchRequest* request,
                                                    v1::CancelBatchResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  if (absl::Status s = CheckCancelReason(request->reason()); !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.Cancel(request->batch_id(), request->reason(),
                    [this, reactor, response](absl::StatusOr<core::BatchProgress> progress) {
                      FinishWithProgress(conversions_, reactor, std::move(progress), response);
                    });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::AddTasks(grpc::CallbackServerContext* context,
                                                 const v1::AddTasksRequest* request,
                                                 v1::AddTasksResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::Status valid = CheckBatchId(request->batch_id());
  if (valid.ok()) {
    valid = CheckRequestLimits(request->tasks(), v1::BatchOptions::default_instance(), {}, limits_);
  }
  if (!valid.ok()) return FinishUnary(context, ToGrpcStatus(valid));
  absl::StatusOr<std::vector<core::TaskSpec>> tasks = TasksFromProto(request->tasks());
  if (!tasks.ok()) return FinishUnary(context, ToGrpcStatus(tasks.status()));
  core::Scheduler::AddTasksCall call{request->batch_id(), request->request_id(),
                                     *std::move(tasks),   EncodeAddedContent(*request),
                                     request->close(),    limits_.max_batch_tasks};
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.AddTasks(std::move(call),
                      [this, reactor, response](absl::StatusOr<core::AddTasksResult> added) {
                        ConvertAndFinish(conversions_, reactor, std::move(added),
                                         [response](const core::AddTasksResult& a) {
                                           response->set_total_tasks(a.total_tasks);
                                           response->set_already_added(a.already_added);
                                           return grpc::Status::OK;
                                         });
                      });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::CloseBatch(grpc::CallbackServerContext* context,
                                                   const v1::CloseBatchRequest* request,
                                                   v1::CloseBatchResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  if (absl::Status s = CheckBatchId(request->batch_id()); !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.CloseBatch(request->batch_id(),
                        [this, reactor, response](absl::StatusOr<core::BatchProgress> progress) {
                          FinishWithProgress(conversions_, reactor, std::move(progress), response);
                        });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::CancelTask(grpc::CallbackServerContext* context,
                                                   const v1::CancelTaskRequest* request,
                                                   v1::CancelTaskResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::Status valid = CheckBatchId(request->batch_id());
  if (valid.ok() && request->task_id().empty()) {
    valid = core::InvalidField("task_id", "task_id is empty");
  }
  if (valid.ok()) valid = CheckCancelReason(request->reason());
  if (!valid.ok()) return FinishUnary(context, ToGrpcStatus(valid));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.CancelTask(request->batch_id(), request->task_id(), request->reason(),
                        [this, reactor, response](absl::StatusOr<core::TaskUpdate> update) {
                          ConvertAndFinish(conversions_, reactor, std::move(update),
                                           [response](const core::TaskUpdate& u) {
                                             if (u.result != nullptr) {
                                               TaskResultToProto(*u.result,
                                                                 response->mutable_result());
                                             }
                                             return grpc::Status::OK;
                                           });
                        });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::CompleteTask(grpc::CallbackServerContext* context,
                                                     const v1::CompleteTaskRequest* request,
                                                     v1::CompleteTaskResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::Status valid = CheckBatchId(request->batch_id());
  if (valid.ok()) valid = CheckCompletion(*request, limits_);
  if (!valid.ok()) return FinishUnary(context, ToGrpcStatus(valid));
  core::ExecutionOutcome outcome =
      request->outcome_case() == v1::CompleteTaskRequest::kOutput
          ? core::ExecutionOutcome::Success(ValueToJson(request->output()))
          : core::ExecutionOutcome::Failure(request->error(), request->non_retryable());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.CompleteTask(
      request->batch_id(), request->task_id(), request->token(), std::move(outcome),
      [this, reactor, response](absl::StatusOr<core::TaskUpdate> update) {
        ConvertAndFinish(conversions_, reactor, std::move(update),
                         [response](const core::TaskUpdate& u) {
                           response->set_state(TaskStateToProto(u.state));
                           response->set_retry_count(u.retry_count);
                           if (u.result != nullptr) {
                             TaskResultToProto(*u.result, response->mutable_result());
                           }
                           return grpc::Status::OK;
                         });
      });
  return reactor;
}

grpc::ServerUnaryReactor* BatchService::ResolveExecutionOrder(
    grpc::CallbackServerContext* context, const v1::ResolveExecutionOrderRequest* request,
    v1::ResolveExecutionOrderResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  return FinishUnary(context, ToGrpcStatus(ResolveOrder(*request, response)));
}

grpc::ServerUnaryReactor* BatchService::AssignTasks(grpc::CallbackServerContext* context,
                                                    const v1::AssignTasksRequest* request,
                                                    v1::AssignTasksResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  return FinishUnary(context, ToGrpcStatus(Assign(*request, response)));
}

grpc::ServerUnaryReactor* BatchService::ListExecutors(grpc::CallbackServerContext* context,
                                                      const v1::ListExecutorsRequest* /*request*/,
                                                      v1::ListExecutorsResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  for (const core::ExecutorDescription& executor : registry_.List()) {
    v1::ExecutorInfo* info = response->add_executors();
    info->set_name(executor.name);
    info->set_kind(executor.kind);
    info->set_workers(executor.workers);
    info->set_capacity(executor.capacity);
  }
  return FinishUnary(context, grpc::Status::OK);
}

}  // namespace batchd::server
