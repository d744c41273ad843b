// The daemon's plugin flags (--plugin, --plugin-threads) read into a validated value, and the
// registration of the plugins it names. Call from main's thread only: PluginOptionsFromFlags
// after absl::ParseCommandLine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/executors/executor_environment.h"

namespace batchd::server {

struct PluginOptions {
  std::vector<std::string> paths;  // shared objects to load; empty: none
  uint32_t threads = 4;            // per plugin
};

// INVALID_ARGUMENT naming the flag when a value is unusable (nothing is loaded here).
absl::StatusOr<PluginOptions> PluginOptionsFromFlags();

// Loads every plugin in `options` and registers its executors. INVALID_ARGUMENT naming the file
// when one is unusable; ALREADY_EXISTS when an executor name is taken (see
// core::RegisterPlugins). OK and nothing loaded without paths.
absl::Status RegisterConfiguredPlugins(const PluginOptions& options,
                                       core::ExecutorEnvironment& environment);

}  // namespace batchd::server
