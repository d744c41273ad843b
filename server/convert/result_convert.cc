#include "server/convert/result_convert.h"

#include <google/protobuf/util/time_util.h>

#include "server/convert/enum_convert.h"
#include "server/convert/proto_convert.h"

namespace batchd::server {
void WallToProto(core::WallTime t, google::protobuf::Timestamp* out) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  // Floor division: a Timestamp's nanos are 0..999,999,999 also before 1970.
  int64_t seconds = ns / 1000000000;
  int64_t nanos = ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(nanos));
}

v1::TaskState TaskStateToProto(core::TaskState state) { return kTaskStates.ToProto(state); }

v1::BatchState BatchStateToProto(core::BatchState state) { return kBatchStates.ToProto(state); }

void TaskResultToProto(const core::TaskResult& result, v1::TaskResult* out) {
  out->set_task_id(*result.task_id);
  out->set_success(result.success());
  out->set_state(TaskStateToProto(result.state));
  if (!result.output.is_null() || result.success())
    JsonToValue(result.output, out->mutable_output());
  out->set_error(result.error);
  out->set_duration_ms(result.duration_ms);
  out->set_retry_count(result.retry_count);
  out->set_priority(result.priority);
  out->set_worker_id(result.worker_id);
  if (result.started_at != core::WallTime{})
    WallToProto(result.started_at, out->mutable_started_at());
  WallToProto(result.finished_at, out->mutable_finished_at());
  if (result.executor != nullptr) out->set_executor(*result.executor);
  if (result.cached_from != nullptr) {
    out->set_cached(true);
    out->mutable_cached_from()->set_batch_id(result.cached_from->batch_id);
    out->mutable_cached_from()->set_task_id(result.cached_from->task_id);
  }
}

void BatchSummaryToProto(const core::BatchSummary& summary, bool include_results,
                         v1::BatchSummary* out) {
  out->set_batch_id(summary.batch_id);
  out->set_state(BatchStateToProto(summary.state));
  if (include_results) {
    out->mutable_results()->Reserve(static_cast<int>(summary.results.size()));
    for (const core::TaskResult* r : summary.results) TaskResultToProto(*r, out->add_results());
  }
  out->set_total_duration_ms(summary.total_duration_ms);
  out->set_successful_count(summary.successful_count);
  out->set_failed_count(summary.failed_count);
  out->set_retried_count(summary.retried_count);
  out->set_throughput_per_second(summary.throughput_per_second);
  out->set_success_rate(summary.success_rate);
  out->set_avg_duration_ms(summary.avg_duration_ms);
  out->set_total_tasks(summary.total_tasks);
  out->set_cancel_reason(summary.cancel_reason);
}

void BatchProgressToProto(const core::BatchProgress& progress, v1::BatchProgress* out) {
  out->set_batch_id(progress.batch_id);
  out->set_state(BatchStateToProto(progress.state));
  out->set_total_tasks(progress.total_tasks);
  out->set_completed_tasks(progress.completed_tasks);
  out->set_successful_tasks(progress.successful_tasks);
  out->set_failed_tasks(progress.failed_tasks);
  out->set_running_tasks(progress.running_tasks);
  out->set_pending_tasks(progress.pending_tasks);
  out->set_throttled_tasks(progress.throttled_tasks);
  out->set_cache_waiting_tasks(progress.cache_waiting_tasks);
  out->mutable_limit_waits()->Reserve(static_cast<int>(progress.limit_waits.size()));
  for (const core::BatchProgress::LimitWait& wait : progress.limit_waits) {
    v1::LimitWait* w = out->add_limit_waits();
    w->set_key(wait.key);
    w->set_tasks(wait.tasks);
    w->set_reason(wait.reason);
  }
  out->set_awaiting_completion_tasks(progress.awaiting_completion_tasks);
  out->mutable_awaiting_completion()->Reserve(
      static_cast<int>(progress.awaiting_completion.size()));
  for (const core::BatchProgress::AwaitingCompletion& a : progress.awaiting_completion) {
    v1::AwaitingCompletion* w = out->add_awaiting_completion();
    w->set_task_id(a.task_id);
    w->set_token(a.token);
    WallToProto(a.since, w->mutable_since());
    w->set_retry_count(a.retry_count);
    JsonToValue(a.input, w->mutable_input());
  }
  out->set_progress_percentage(progress.progress_percentage);
  out->set_estimated_remaining_ms(progress.estimated_remaining_ms);
  WallToProto(progress.created_at, out->mutable_created_at());
  out->mutable_labels()->insert(progress.labels.begin(), progress.labels.end());
}

void LayerIdsToProto(const std::vector<std::vector<std::string_view>>& layers,
                     google::protobuf::RepeatedPtrField<v1::Layer>* out) {
  out->Reserve(static_cast<int>(layers.size()));
  for (const std::vector<std::string_view>& layer : layers) {
    v1::Layer* l = out->Add();
    l->mutable_task_ids()->Reserve(static_cast<int>(layer.size()));
    for (std::string_view id : layer) l->add_task_ids(std::string(id));
  }
}

}  // namespace batchd::server
