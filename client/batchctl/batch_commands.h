// batchctl commands that run and follow batches: run, submit, status, results, cancel, list.
// Each returns the process exit code. Not thread-safe (see CommandContext).
#pragma once

#include "client/batchctl/command_context.h"

namespace batchd::client {

// ProcessBatch; kExitFailure unless the batch SUCCEEDED with no failed task.
int RunCommand(const CommandContext& context);
// SubmitBatch and print the id; with --watch, follow progress and finish as RunCommand.
int SubmitCommand(const CommandContext& context);
int StatusCommand(const CommandContext& context);
// GetBatch table, or with --follow every result as it is streamed, then the summary.
int ResultsCommand(const CommandContext& context);
int CancelCommand(const CommandContext& context);
int ListCommand(const CommandContext& context);

}  // namespace batchd::client
