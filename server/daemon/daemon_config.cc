#include "server/daemon/daemon_config.h"

#include "absl/strings/match.h"
#include "core/base/status_macros.h"
#include "server/observability/malloc_trimmer.h"

namespace batchd::server {

bool IsDaemonFlagFile(absl::string_view file) { return absl::StrContains(file, "server/"); }

absl::StatusOr<DaemonConfig> DaemonConfigFromFlags() {
  DaemonConfig config;
  ASSIGN_OR_RETURN(config.daemon, DaemonOptionsFromFlags());
  ASSIGN_OR_RETURN(config.malloc_trim_interval, MallocTrimIntervalFromFlags());
  ASSIGN_OR_RETURN(config.security, SecurityOptionsFromFlags());
  ASSIGN_OR_RETURN(config.security_warnings,
                   CheckListenSecurity(config.daemon.listen, config.security));
  ASSIGN_OR_RETURN(config.plugins, PluginOptionsFromFlags());
  ASSIGN_OR_RETURN(config.shell, ShellConfigFromFlags());
  ASSIGN_OR_RETURN(config.limits, LimitsConfigFromFlags());
  ASSIGN_OR_RETURN(config.cache, CacheOptionsFromFlags());
  ASSIGN_OR_RETURN(config.http, HttpOptionsFromFlags());
  ASSIGN_OR_RETURN(config.secrets, SecretsFromFlags());
  return config;
}

}  // namespace batchd::server
