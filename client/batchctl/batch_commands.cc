#include "client/batchctl/batch_commands.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "client/cpp/batch_file.h"
#include "client/format/listing_format.h"
#include "client/format/progress_format.h"
#include "client/format/result_table.h"
#include "client/format/state_names.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

// Room the text after the bar needs ("  100/100  100.0%  1234 tasks/s  ETA 10m05s  ...").
constexpr int kProgressTextWidth = 56;
constexpr int kMinBarWidth = 10;
constexpr int kMaxBarWidth = 40;

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

int ResultsCommand(const CommandContext& context) {
  const std::string& batch_id = context.command_line.args[0];
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

int ListCommand(const CommandContext& context) {
  v1::ListBatchesResponse response;
  if (grpc::Status status = context.client.ListBatches({}, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatBatchList(response);
  return kExitOk;
}

}  // namespace batchd::client
