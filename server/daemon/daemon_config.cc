#include "server/daemon/daemon_config.h"

#include <utility>

#include "absl/strings/match.h"
#include "server/observability/malloc_trimmer.h"

namespace batchd::server {

bool IsDaemonFlagFile(absl::string_view file) { return absl::StrContains(file, "server/"); }

absl::StatusOr<DaemonConfig> DaemonConfigFromFlags() {
  DaemonConfig config;
  absl::StatusOr<DaemonOptions> daemon = DaemonOptionsFromFlags();
  if (!daemon.ok()) return daemon.status();
  config.daemon = *std::move(daemon);
  absl::StatusOr<absl::Duration> trim_interval = MallocTrimIntervalFromFlags();
  if (!trim_interval.ok()) return trim_interval.status();
  config.malloc_trim_interval = *trim_interval;
  absl::StatusOr<SecurityOptions> security = SecurityOptionsFromFlags();
  if (!security.ok()) return security.status();
  config.security = *std::move(security);
  absl::StatusOr<std::vector<std::string>> warnings =
      CheckListenSecurity(config.daemon.listen, config.security);
  if (!warnings.ok()) return warnings.status();
  config.security_warnings = *std::move(warnings);
  absl::StatusOr<PluginOptions> plugins = PluginOptionsFromFlags();
  if (!plugins.ok()) return plugins.status();
  config.plugins = *std::move(plugins);
  absl::StatusOr<ShellConfig> shell = ShellConfigFromFlags();
  if (!shell.ok()) return shell.status();
  config.shell = *std::move(shell);
  return config;
}

}  // namespace batchd::server
