// The daemon's shell-executor flags (--enable-shell, --shell-*) and the registration of the
// `shell` executor they configure. Call from main's thread only, after absl::ParseCommandLine.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/executors/executor_environment.h"
#include "core/executors/shell/shell_executor.h"

namespace batchd::server {

// The --shell-* flags as options. INVALID_ARGUMENT naming the flag when a value is unusable.
absl::StatusOr<core::ShellOptions> ShellOptionsFromFlags();

// With --enable-shell, registers `shell`; without it registers nothing, so a task naming it is
// rejected at submit like any unknown executor. The flags are checked either way.
absl::Status RegisterShellExecutorFromFlags(core::ExecutorEnvironment& environment);

}  // namespace batchd::server
