// batchctl commands that run and follow batches: run, submit, status, results, cancel,
// cancel-task, complete, list, tasks.
// Each returns the process exit code. Not thread-safe (see CommandContext).
#pragma once

#include "absl/strings/string_view.h"
#include "client/batchctl/command_context.h"

namespace batchd::client {

inline constexpr absl::string_view kCompleteUsage =
    "complete ID TASK (--output JSON | --error TEXT [--non-retryable]) [--token T]";

// ProcessBatch; kExitFailure unless the batch SUCCEEDED with no failed task.
int RunCommand(const CommandContext& context);
// SubmitBatch and print the id; with --watch, follow progress and finish as RunCommand.
int SubmitCommand(const CommandContext& context);
int StatusCommand(const CommandContext& context);
// GetBatch table, or with --follow every result as it is streamed, then the summary.
int ResultsCommand(const CommandContext& context);
int CancelCommand(const CommandContext& context);
int CancelTaskCommand(const CommandContext& context);
// AddTasks from a batch file's tasks (and request_id); CloseBatch.
int AddCommand(const CommandContext& context);
int CloseCommand(const CommandContext& context);
int CompleteCommand(const CommandContext& context);
// ListBatches with --state (repeatable), --selector, --page-size, --page-token.
int ListCommand(const CommandContext& context);
// ListTasks of batch ID with --state (repeatable), --page-size, --page-token.
int TasksCommand(const CommandContext& context);

}  // namespace batchd::client
