#include "server/flags/plugin_flags.h"

#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/executors/plugin/plugin_executor.h"

ABSL_FLAG(
    std::vector<std::string>, plugin, {},
    "Executor plugins to load: comma-separated paths of shared objects implementing "
    "core/executors/plugin/batchd_plugin.h, e.g. --plugin=/opt/a.so,/opt/b.so. Abseil does not "
    "accumulate repeated list flags: a later --plugin replaces an earlier one");
ABSL_FLAG(uint32_t, plugin_threads, 4,
          "Threads per plugin running its (possibly blocking) execute calls; attempts "
          "beyond that wait for a thread. Also each plugin executor's listed capacity");

namespace batchd::server {

constexpr uint32_t kMaxPluginThreads = 256;

absl::StatusOr<PluginOptions> PluginOptionsFromFlags() {
  PluginOptions options;
  options.paths = absl::GetFlag(FLAGS_plugin);
  options.threads = absl::GetFlag(FLAGS_plugin_threads);
  if (options.threads == 0 || options.threads > kMaxPluginThreads) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --plugin-threads ", options.threads,
                                                   ": must be between 1 and ", kMaxPluginThreads));
  }
  for (const std::string& path : options.paths) {
    if (path.empty()) return absl::InvalidArgumentError("invalid --plugin: empty path in the list");
  }
  return options;
}

absl::Status RegisterConfiguredPlugins(const PluginOptions& options,
                                       core::ExecutorEnvironment& environment) {
  if (options.paths.empty()) return absl::OkStatus();
  return core::RegisterPlugins(options.paths, options.threads, environment);
}

}  // namespace batchd::server
