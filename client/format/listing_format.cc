#include "client/format/listing_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/format/state_names.h"
#include "client/format/text_table.h"
#include "client/format/units_format.h"

namespace batchd::client {

namespace v1 = batchd::v1;

std::string FormatExecutorTable(const v1::ListExecutorsResponse& response) {
  using Align = TextTable::Align;
  TextTable table({"NAME", "KIND", "WORKERS", "CAPACITY"},
                  {Align::kLeft, Align::kLeft, Align::kRight, Align::kRight});
  for (const v1::ExecutorInfo& executor : response.executors()) {
    table.AddRow({executor.name(), executor.kind(), absl::StrCat(executor.workers()),
                  executor.capacity() == 0 ? "-" : absl::StrCat(executor.capacity())});
  }
  return table.Render();
}

std::string FormatBatchList(const v1::ListBatchesResponse& response) {
  using Align = TextTable::Align;
  TextTable table({"ID", "STATE", "DONE", "CREATED"},
                  {Align::kLeft, Align::kLeft, Align::kRight, Align::kLeft});
  for (const v1::BatchProgress& batch : response.batches()) {
    table.AddRow({batch.batch_id(), BatchStateName(batch.state()),
                  absl::StrCat(batch.completed_tasks(), "/", batch.total_tasks()),
                  FormatTimestamp(batch.created_at())});
  }
  return table.Render();
}

std::string FormatTaskList(const v1::ListTasksResponse& response) {
  using Align = TextTable::Align;
  TextTable table(
      {"TASK", "STATE", "LAYER", "RETRIES", "WORKER", "DETAIL"},
      {Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kLeft, Align::kLeft});
  for (const v1::TaskStatus& task : response.tasks()) {
    table.AddRow({task.task_id(), TaskStateName(task.state()), absl::StrCat(task.layer()),
                  absl::StrCat(task.retry_count()), task.worker_id(),
                  task.waiting_reason().empty() ? task.error() : task.waiting_reason()});
  }
  return table.Render();
}

std::string FormatNextPage(int listed, uint32_t total_size, const std::string& next_page_token) {
  if (next_page_token.empty()) return "";
  return absl::StrCat("(", listed, " of ", total_size, "; next page: --page-token ",
                      next_page_token, ")\n");
}

std::string FormatExecutionOrder(const v1::ResolveExecutionOrderResponse& response) {
  std::string out;
  for (int i = 0; i < response.layers_size(); ++i) {
    absl::StrAppend(&out, "layer ", i, ": ", absl::StrJoin(response.layers(i).task_ids(), " "),
                    "\n");
  }
  absl::StrAppend(&out, "critical path: ", FormatCriticalPath(response.critical_path()), "\n");
  return out;
}

std::string FormatCriticalPath(const google::protobuf::RepeatedPtrField<std::string>& path) {
  constexpr int kHead = 20;
  constexpr int kTail = 10;
  if (path.empty()) return "(none)";
  if (path.size() <= kHead + kTail + 1) return absl::StrJoin(path, " -> ");
  // A chain of a million tasks would otherwise print one multi-megabyte line.
  return absl::StrCat(absl::StrJoin(path.begin(), path.begin() + kHead, " -> "), " -> ... (",
                      path.size() - kHead - kTail, " more) -> ",
                      absl::StrJoin(path.end() - kTail, path.end(), " -> "));
}

}  // namespace batchd::client
