#include "server/flags/plugin_flags.h"
#include "server/flags/dashed_flag.h"

#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/executors/plugin/plugin_executor.h"


ABSL_FLAG(std::vector<std::string>, plugin, {},
          "Executor plugins to load: comma-separated paths of shared objects implementing "
          "core/executors/plugin/batchd_plugin.h, e.g. --plugin=/opt/a.so,/opt/b.so. Abseil does not "
          "accumulate repeated list flags: a later --plugin replaces an earlier one");
BATCHD_DASHED_FLAG(uint32_t, plugin_threads, "plugin-threads", 4,
                   "Threads per plugin running its (possibly blocking) execute calls; attempts "
                   "beyond that wait for a thread. Also each plugin executor's listed capacity");

namespace batchd::server {

constexpr uint32_t kMaxPluginThreads = 256;

absl::Status RegisterPluginsFromFlags(core::ExecutorEnvironment& environment) {
  const std::vector<std::string> paths = absl::GetFlag(FLAGS_plugin);
  const uint32_t threads = absl::GetFlag(FLAGS_plugin_threads);
  if (threads == 0 || threads > kMaxPluginThreads) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --plugin-threads ", threads,
                                                   ": must be between 1 and ", kMaxPluginThreads));
  }
  for (const std::string& path : paths) {
    if (path.empty()) return absl::InvalidArgumentError("invalid --plugin: empty path in the list");
  }
  if (paths.empty()) return absl::OkStatus();
  return core::RegisterPlugins(paths, threads, environment);
}

}  // namespace batchd::server
