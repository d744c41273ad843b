// batchctl commands about the daemon itself and dry runs: health, executors, layers.
// Each returns the process exit code. Not thread-safe (see CommandContext).
#pragma once

#include "client/batchctl/command_context.h"

namespace batchd::client {

// grpc.health.v1 Check of ""; kExitOk only when SERVING.
int HealthCommand(const CommandContext& context);
int ExecutorsCommand(const CommandContext& context);
// ResolveExecutionOrder for the tasks of the batch file in args[0].
int LayersCommand(const CommandContext& context);

}  // namespace batchd::client
