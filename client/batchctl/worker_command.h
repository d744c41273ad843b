// batchctl worker: serves executors by running a command per assignment (ProcessTaskHandler
// on a WorkerSession) until SIGINT/SIGTERM. Not thread-safe (see CommandContext).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/batchctl/command_context.h"
#include "client/batchctl/command_line.h"
#include "client/worker/worker_session.h"

namespace batchd::client {

inline constexpr absl::string_view kWorkerUsage =
    "worker --executor NAME [--executor NAME ...] [--slots N] [--name S] [--weight W] "
    "-- CMD [ARGS...]";

// The session options `batchctl worker` asks for: INVALID_ARGUMENT (naming the usage) without
// an --executor. `default_name` is used without --name.
absl::StatusOr<WorkerSessionOptions> WorkerOptionsFromCommandLine(const CommandLine& command_line,
                                                                  absl::string_view default_name);

// "<hostname>-<pid>".
std::string DefaultWorkerName();

// Exit 0 once stopped by a signal; 1 when the daemon rejects the registration; 2 for usage.
int WorkerCommand(const CommandContext& context);

}  // namespace batchd::client
