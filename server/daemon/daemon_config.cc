#include "server/daemon/daemon_config.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
  ASSIGN_OR_RETURN(config.http_api, HttpApiOptionsFromFlags(config.daemon.max_request_bytes));
  // The one HTTP listener serves /metrics: metrics_listen now says where it is.
  config.daemon.metrics_listen = config.http_api.listen;
  if (!config.http_api.listen.empty()) {
    // The HTTP listener has no TLS: it is checked as a plain-text address.
    SecurityOptions plain = config.security;
    plain.tls.reset();
    absl::StatusOr<std::vector<std::string>> http_warnings =
        CheckListenSecurity(config.http_api.listen, plain);
    if (!http_warnings.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-listen: ", http_warnings.status().message()));
    }
    for (std::string& w : *http_warnings) {
      config.security_warnings.push_back(absl::StrCat("--http-listen: ", w));
    }
  }
  ASSIGN_OR_RETURN(config.plugins, PluginOptionsFromFlags());
  ASSIGN_OR_RETURN(config.shell, ShellConfigFromFlags());
  ASSIGN_OR_RETURN(config.limits, LimitsConfigFromFlags());
  ASSIGN_OR_RETURN(config.cache, CacheOptionsFromFlags());
  ASSIGN_OR_RETURN(config.http, HttpOptionsFromFlags());
  ASSIGN_OR_RETURN(config.secrets, SecretsFromFlags());
  return config;
}

}  // namespace batchd::server
