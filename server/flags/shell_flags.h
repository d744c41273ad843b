// The daemon's shell-executor flags (--enable-shell, --shell-*) read into a validated value, and
// the registration of the `shell` executor it configures. Call from main's thread only:
// ShellConfigFromFlags after absl::ParseCommandLine.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/executors/executor_environment.h"
#include "core/executors/shell/shell_executor.h"

namespace batchd::server {

struct ShellConfig {
  bool enabled = false;  // --enable-shell
  core::ShellOptions options;
};

// The --enable-shell and --shell-* flags, checked whether or not the shell is enabled.
// INVALID_ARGUMENT naming the flag when a value is unusable.
absl::StatusOr<ShellConfig> ShellConfigFromFlags();

// When `config` enables it, registers `shell`; otherwise registers nothing, so a task naming it
// is rejected at submit like any unknown executor.
absl::Status RegisterConfiguredShellExecutor(const ShellConfig& config,
                                             core::ExecutorEnvironment& environment);

}  // namespace batchd::server
