#include "server/convert/listing_convert.h"

#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/model/field_violation.h"
#include "core/model/page_token.h"
#include "server/convert/enum_convert.h"
#include "server/convert/result_convert.h"

namespace batchd::server {
namespace {

// `table`'s core values of the request's `states` (UNSPECIFIED names no state: refused).
template <typename Table, typename Core>
void StatesFromProto(const Table& table, const google::protobuf::RepeatedField<int>& states,
                     std::vector<Core>* out, core::FieldViolations& violations) {
  for (int i = 0; i < states.size(); ++i) {
    const std::optional<Core> state = table.ToCore(states[i]);
    if (!state.has_value()) {
      violations.Add(absl::StrCat("states[", i, "]"),
                     absl::StrCat("states[", i, "]: unknown value ", states[i]));
    } else {
      out->push_back(*state);
    }
  }
}

void PageSizeFromProto(uint32_t page_size, uint32_t max, core::FieldViolations& violations) {
  if (page_size > max) {
    violations.Add("page_size",
                   absl::StrCat("page_size ", page_size, " is out of range (1 .. ", max, ")"));
  }
}

template <typename Position>
void PageTokenFromProto(core::PageKind kind, const std::string& token, Position* out,
                        core::FieldViolations& violations) {
  if (token.empty()) return;
  absl::StatusOr<uint64_t> position = core::DecodePageToken(kind, token);
  if (!position.ok()) {
    violations.Add("page_token", std::string(position.status().message()));
  } else if (*position > std::numeric_limits<typename Position::value_type>::max()) {
    violations.Add("page_token", "page_token is not a next_page_token of this listing");
  } else {
    *out = static_cast<typename Position::value_type>(*position);
  }
}

}  // namespace

absl::StatusOr<core::BatchListQuery> BatchListQueryFromProto(
    const v1::ListBatchesRequest& request) {
  core::BatchListQuery query;
  core::FieldViolations violations;
  StatesFromProto(kBatchStates, request.states(), &query.states, violations);
  absl::StatusOr<core::LabelSelector> selector =
      core::LabelSelector::Parse(request.label_selector());
  if (!selector.ok()) {
    violations.Add("label_selector", std::string(selector.status().message()));
  } else {
    query.selector = *std::move(selector);
  }
  PageSizeFromProto(request.page_size(), core::kMaxBatchPageSize, violations);
  query.limit = request.limit();
  query.page_size = request.page_size();
  PageTokenFromProto(core::PageKind::kBatches, request.page_token(), &query.before_seq, violations);
  if (query.before_seq.has_value() && query.page_size == 0) {
    violations.Add("page_token", "page_token needs page_size (1 .. 1000)");
  }
  if (!violations.empty()) return std::move(violations).ToStatus();
  return query;
}

absl::StatusOr<core::TaskListQuery> TaskListQueryFromProto(const v1::ListTasksRequest& request) {
  core::TaskListQuery query;
  core::FieldViolations violations;
  StatesFromProto(kTaskStates, request.states(), &query.states, violations);
  PageSizeFromProto(request.page_size(), core::kMaxTaskPageSize, violations);
  if (request.page_size() != 0) query.page_size = request.page_size();
  std::optional<uint32_t> first;
  PageTokenFromProto(core::PageKind::kTasks, request.page_token(), &first, violations);
  if (!violations.empty()) return std::move(violations).ToStatus();
  query.first_task = first.value_or(0);
  return query;
}

void BatchPageToProto(const core::BatchPage& page, v1::ListBatchesResponse* out) {
  out->mutable_batches()->Reserve(static_cast<int>(page.batches.size()));
  for (const core::BatchProgress& p : page.batches) BatchProgressToProto(p, out->add_batches());
  if (page.next_before_seq.has_value()) {
    out->set_next_page_token(
        core::EncodePageToken(core::PageKind::kBatches, *page.next_before_seq));
  }
  out->set_total_size(page.total_size);
}

void TaskStatusToProto(const core::TaskStatus& status, v1::TaskStatus* out) {
  out->set_task_id(*status.task_id);
  out->set_state(TaskStateToProto(status.state));
  out->set_executor(*status.executor);
  out->set_retry_count(status.retry_count);
  out->mutable_dependencies()->Reserve(static_cast<int>(status.dependencies.size()));
  for (const std::string* d : status.dependencies) out->add_dependencies(*d);
  out->set_layer(status.layer);
  out->set_priority(status.priority);
  if (const core::TaskResult* r = status.result) {
    if (r->started_at != core::WallTime{}) WallToProto(r->started_at, out->mutable_started_at());
    WallToProto(r->finished_at, out->mutable_finished_at());
    out->set_duration_ms(r->duration_ms);
    out->set_worker_id(r->worker_id);
    out->set_error(r->error);
    return;
  }
  if (status.started_at != core::WallTime{}) {
    WallToProto(status.started_at, out->mutable_started_at());
  }
  out->set_duration_ms(status.duration_ms);
  out->set_error(status.error);
  out->set_waiting_reason(status.waiting_reason);
}

void TaskPageToProto(const core::TaskPage& page, v1::ListTasksResponse* out) {
  out->mutable_tasks()->Reserve(static_cast<int>(page.tasks.size()));
  for (const core::TaskStatus& s : page.tasks) TaskStatusToProto(s, out->add_tasks());
  if (page.next_task.has_value()) {
    out->set_next_page_token(core::EncodePageToken(core::PageKind::kTasks, *page.next_task));
  }
  out->set_total_size(page.total_size);
  out->set_batch_state(BatchStateToProto(page.batch_state));
}

}  // namespace batchd::server
