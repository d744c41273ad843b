// The daemon's plugin flags (--plugin, --plugin-threads) and the registration of the plugins
// they name. Call from main's thread only, after absl::ParseCommandLine.
#pragma once

#include "absl/status/status.h"
#include "core/executors/executor_environment.h"

namespace batchd::server {

// Loads every --plugin and registers its executors. INVALID_ARGUMENT naming the flag or the
// file when one is unusable; ALREADY_EXISTS when an executor name is taken (see
// core::RegisterPlugins). OK and nothing loaded without --plugin.
absl::Status RegisterPluginsFromFlags(core::ExecutorEnvironment& environment);

}  // namespace batchd::server
