#include "client/batchctl/batch_commands.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cpp/batch_file.h"
#include "client/format/listing_format.h"
#include "client/format/progress_format.h"
#include "client/format/result_table.h"
#include "client/format/state_names.h"
#include "google/protobuf/util/json_util.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

// Room the text after the bar needs ("  100/100  100.0%  1234 tasks/s  ETA 10m05s  ...").
constexpr int kProgressTextWidth = 56;
constexpr int kMinBarWidth = 10;
constexpr int kMaxBarWidth = 40;

// A --state naming no state of `kind` is a usage error (exit 2), found before any call.
int UnknownState(const CommandContext& context, const std::string& name, absl::string_view kind) {
  context.err << "batchctl: unknown " << kind << " state '" << name << "' for --state (e.g. "
              << (kind == "batch" ? "running, succeeded, failed"
                                  : "pending, running, retry_wait, failed")
              << ")\n";
  return kExitUsage;
}

bool AnyTaskFailed(const v1::BatchSummary& summary) {
  return summary.failed_count() > 0 ||
         std::any_of(summary.results().begin(), summary.results().end(),
                     [](const v1::TaskResult& result) { return !result.success(); });
}

// For a batch that has finished: only a SUCCEEDED batch without failed tasks is success.
int FinishedBatchExitCode(const v1::BatchSummary& summary) {
  return summary.state() == v1::BATCH_STATE_SUCCEEDED && !AnyTaskFailed(summary) ? kExitOk
                                                                                 : kExitFailure;
}

// For a batch in any state: failed tasks or an unsuccessful end are failure.
int SnapshotExitCode(const v1::BatchSummary& summary) {
  if (IsFinal(summary.state())) return FinishedBatchExitCode(summary);
  return AnyTaskFailed(summary) ? kExitFailure : kExitOk;
}

void ShowProgress(const CommandContext& context, const v1::BatchProgress& progress,
                  absl::Duration elapsed) {
  if (!context.out_is_tty) {
    context.out << FormatProgressLine(progress) << "\n" << std::flush;
    return;
  }
  const int width =
      std::clamp(context.terminal_columns - kProgressTextWidth, kMinBarWidth, kMaxBarWidth);
  // \033[K clears what a longer previous line left behind.
  context.out << "\r" << RenderProgressBar(progress, width, elapsed) << "\033[K" << std::flush;
}

// GetBatch and print its table; `finished` selects the exit-code rule.
int PrintBatchResults(const CommandContext& context, const std::string& batch_id, bool finished) {
  v1::GetBatchRequest request;
  request.set_batch_id(batch_id);
  v1::GetBatchResponse response;
  if (grpc::Status status = context.client.GetBatch(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatResultTable(response.summary());
  return finished ? FinishedBatchExitCode(response.summary())
                  : SnapshotExitCode(response.summary());
}

int WatchUntilFinished(const CommandContext& context, const std::string& batch_id,
                       absl::Time started) {
  v1::WatchProgressRequest request;
  request.set_batch_id(batch_id);
  const grpc::Status status =
      context.client.WatchProgress(request, [&](const v1::BatchProgress& progress) {
        ShowProgress(context, progress, absl::Now() - started);
      });
  if (context.out_is_tty) context.out << "\n";
  if (!status.ok()) return ReportRpcError(context, status);
  return PrintBatchResults(context, batch_id, /*finished=*/true);
}

int FollowResults(const CommandContext& context, const std::string& batch_id) {
  v1::StreamResultsRequest request;
  request.set_batch_id(batch_id);
  std::optional<v1::BatchSummary> summary;
  const grpc::Status status =
      context.client.StreamResults(request, [&](const v1::StreamResultsResponse& message) {
        for (const v1::TaskResult& result : message.results()) {
          context.out << FormatResultLine(result) << "\n" << std::flush;
        }
        if (message.has_summary()) summary = message.summary();
      });
  if (!status.ok()) return ReportRpcError(context, status);
  if (!summary.has_value()) {
    return ReportError(context, absl::DataLossError("result stream ended without a summary"));
  }
  context.out << FormatSummaryLine(*summary) << "\n";
  return FinishedBatchExitCode(*summary);
}

}  // namespace

int RunCommand(const CommandContext& context) {
  absl::StatusOr<v1::SubmitBatchRequest> batch =
      LoadBatchFile(context.command_line.args[0], context.in);
  if (!batch.ok()) return ReportError(context, batch.status());
  v1::ProcessBatchResponse response;
  if (grpc::Status status = context.client.ProcessBatch(ToProcessBatchRequest(*batch), &response);
      !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatResultTable(response.summary());
  return FinishedBatchExitCode(response.summary());
}

int SubmitCommand(const CommandContext& context) {
  absl::StatusOr<v1::SubmitBatchRequest> batch =
      LoadBatchFile(context.command_line.args[0], context.in);
  if (!batch.ok()) return ReportError(context, batch.status());
  const absl::Time started = absl::Now();
  v1::SubmitBatchResponse response;
  if (grpc::Status status = context.client.SubmitBatch(*batch, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << response.batch_id() << "\n" << std::flush;
  if (!context.command_line.watch) return kExitOk;
  return WatchUntilFinished(context, response.batch_id(), started);
}

int StatusCommand(const CommandContext& context) {
  v1::GetProgressRequest request;
  request.set_batch_id(context.command_line.args[0]);
  v1::GetProgressResponse response;
  if (grpc::Status status = context.client.GetProgress(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatProgressDetails(response.progress());
  return kExitOk;
}

namespace {

// A task's partial output as it comes, then its final state (batchctl results --follow-output).
int FollowTaskOutput(const CommandContext& context, const std::string& batch_id,
                     const std::string& task_id) {
  v1::StreamTaskOutputRequest request;
  request.set_batch_id(batch_id);
  request.set_task_id(task_id);
  std::optional<v1::TaskResult> result;
  const grpc::Status status =
      context.client.StreamTaskOutput(request, [&](const v1::StreamTaskOutputResponse& message) {
        if (message.dropped_bytes() > 0) {
          context.err << "batchctl: " << message.dropped_bytes()
                      << " bytes of output were no longer kept\n";
        }
        context.out << message.data() << std::flush;
        if (message.has_result()) result = message.result();
      });
  if (!status.ok()) return ReportRpcError(context, status);
  if (!result.has_value()) return kExitFailure;
  context.err << "task " << task_id << ": " << TaskStateName(result->state());
  if (!result->error().empty()) context.err << " (" << result->error() << ")";
  context.err << "\n";
  return result->state() == v1::TASK_STATE_SUCCEEDED ? kExitOk : kExitFailure;
}

}  // namespace

int ResultsCommand(const CommandContext& context) {
  const std::string& batch_id = context.command_line.args[0];
  if (!context.command_line.follow_output.empty()) {
    return FollowTaskOutput(context, batch_id, context.command_line.follow_output);
  }
  if (context.command_line.follow) return FollowResults(context, batch_id);
  return PrintBatchResults(context, batch_id, /*finished=*/false);
}

int CancelCommand(const CommandContext& context) {
  v1::CancelBatchRequest request;
  request.set_batch_id(context.command_line.args[0]);
  request.set_reason(context.command_line.reason);
  v1::CancelBatchResponse response;
  if (grpc::Status status = context.client.CancelBatch(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "batch " << request.batch_id() << ": " << FormatProgressLine(response.progress())
              << "\n";
  return kExitOk;
}

int AddCommand(const CommandContext& context) {
  absl::StatusOr<v1::SubmitBatchRequest> batch =
      LoadBatchFile(context.command_line.args[1], context.in);
  if (!batch.ok()) return ReportError(context, batch.status());
  v1::AddTasksRequest request;
  request.set_batch_id(context.command_line.args[0]);
  request.set_request_id(batch->request_id());
  *request.mutable_tasks() = batch->tasks();
  request.set_close(context.command_line.close);
  v1::AddTasksResponse response;
  if (grpc::Status status = context.client.AddTasks(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "batch " << request.batch_id() << ": "
              << (response.already_added() ? "already added" : "added") << " "
              << request.tasks_size() << (request.tasks_size() == 1 ? " task, " : " tasks, ")
              << response.total_tasks() << " in all" << (request.close() ? ", closed" : "") << "\n";
  return kExitOk;
}

int CloseCommand(const CommandContext& context) {
  v1::CloseBatchRequest request;
  request.set_batch_id(context.command_line.args[0]);
  v1::CloseBatchResponse response;
  if (grpc::Status status = context.client.CloseBatch(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "batch " << request.batch_id()
              << " closed: " << FormatProgressLine(response.progress()) << "\n";
  return kExitOk;
}

int CancelTaskCommand(const CommandContext& context) {
  v1::CancelTaskRequest request;
  request.set_batch_id(context.command_line.args[0]);
  request.set_task_id(context.command_line.args[1]);
  request.set_reason(context.command_line.reason);
  v1::CancelTaskResponse response;
  if (grpc::Status status = context.client.CancelTask(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "task " << request.task_id() << ": " << TaskStateName(response.result().state())
              << " (" << response.result().error() << ")\n";
  return kExitOk;
}

namespace {

int CompleteUsageError(const CommandContext& context, absl::string_view message) {
  context.err << "batchctl: " << message << "\nusage: batchctl " << kCompleteUsage << "\n";
  return kExitUsage;
}

// The token of `task_id`'s running attempt, from the batch's progress.
absl::StatusOr<std::string> LookUpToken(const CommandContext& context, const std::string& batch_id,
                                        const std::string& task_id) {
  v1::GetProgressRequest request;
  request.set_batch_id(batch_id);
  v1::GetProgressResponse response;
  if (grpc::Status status = context.client.GetProgress(request, &response); !status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  for (const v1::AwaitingCompletion& a : response.progress().awaiting_completion()) {
    if (a.task_id() == task_id) return a.token();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("task '", task_id, "' of batch ", batch_id,
                   " is not waiting for completion (see batchctl status ", batch_id,
                   "), or is not among the first 100 that are: pass --token"));
}

}  // namespace

int CompleteCommand(const CommandContext& context) {
  const CommandLine& line = context.command_line;
  if (line.output.has_value() == !line.error.empty()) {
    return CompleteUsageError(context,
                              "complete takes --output JSON or --error TEXT (one of them)");
  }
  if (line.non_retryable && line.error.empty()) {
    return CompleteUsageError(context, "--non-retryable goes with --error");
  }
  v1::CompleteTaskRequest request;
  request.set_batch_id(line.args[0]);
  request.set_task_id(line.args[1]);
  if (line.output.has_value()) {
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(*line.output, request.mutable_output());
    if (!parsed.ok()) {
      return CompleteUsageError(
          context, absl::StrCat("--output is not JSON: ", std::string(parsed.message())));
    }
  } else {
    request.set_error(line.error);
    request.set_non_retryable(line.non_retryable);
  }
  if (!line.token.empty()) {
    request.set_token(line.token);
  } else {
    absl::StatusOr<std::string> token = LookUpToken(context, line.args[0], line.args[1]);
    if (!token.ok()) return ReportError(context, token.status());
    request.set_token(*token);
  }
  v1::CompleteTaskResponse response;
  if (grpc::Status status = context.client.CompleteTask(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "task " << request.task_id() << ": " << TaskStateName(response.state());
  if (response.retry_count() > 0) context.out << " (retry " << response.retry_count() << ")";
  context.out << "\n";
  return kExitOk;
}

int ListCommand(const CommandContext& context) {
  v1::ListBatchesRequest request;
  for (const std::string& name : context.command_line.states) {
    const std::optional<v1::BatchState> state = ParseBatchStateName(name);
    if (!state.has_value()) return UnknownState(context, name, "batch");
    request.add_states(*state);
  }
  request.set_label_selector(context.command_line.selector);
  request.set_page_size(context.command_line.page_size.value_or(0));
  request.set_page_token(context.command_line.page_token);
  v1::ListBatchesResponse response;
  if (grpc::Status status = context.client.ListBatches(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatBatchList(response)
              << FormatNextPage(response.batches_size(), response.total_size(),
                                response.next_page_token());
  return kExitOk;
}

int TasksCommand(const CommandContext& context) {
  v1::ListTasksRequest request;
  request.set_batch_id(context.command_line.args[0]);
  for (const std::string& name : context.command_line.states) {
    const std::optional<v1::TaskState> state = ParseTaskStateName(name);
    if (!state.has_value()) return UnknownState(context, name, "task");
    request.add_states(*state);
  }
  request.set_page_size(context.command_line.page_size.value_or(0));
  request.set_page_token(context.command_line.page_token);
  v1::ListTasksResponse response;
  if (grpc::Status status = context.client.ListTasks(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatTaskList(response)
              << FormatNextPage(response.tasks_size(), response.total_size(),
                                response.next_page_token());
  return kExitOk;
}

}  // namespace batchd::client
