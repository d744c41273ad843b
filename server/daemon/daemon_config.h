// Everything batchd is configured with, read once from the flags (set from the environment, the
// command line and flag files) and validated before the daemon opens anything, so a bad value is
// reported (exit 2) even when the data directory or the address could not be used. Only this
// and the *_flags files read Abseil flags. Call from main's thread, after absl::ParseCommandLine.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/flags/cache_flags.h"
#include "server/flags/daemon_flags.h"
#include "server/flags/http_api_flags.h"
#include "server/flags/http_flags.h"
#include "server/flags/limits_flags.h"
#include "server/flags/plugin_flags.h"
#include "server/flags/secrets_flags.h"
#include "server/flags/security_flags.h"
#include "server/flags/shell_flags.h"

namespace batchd::server {

struct DaemonConfig {
  DaemonOptions daemon;
  HttpApiOptions http_api;  // listen empty: no HTTP listener
  SecurityOptions security;
  // What is worth a warning about how the address is secured (e.g. a token in clear text).
  std::vector<std::string> security_warnings;
  ShellConfig shell;
  LimitsConfig limits;  // the limits file's, to restore before serving
  core::ResultCacheOptions cache;
  core::HttpExecutorOptions http;
  PluginOptions plugins;
  std::shared_ptr<const core::SecretStore> secrets{};  // never null after DaemonConfigFromFlags
  absl::Duration malloc_trim_interval;                 // 0: never
};

// Whether a flag defined in `file` (absl::CommandLineFlag::Filename) is one of the daemon's:
// those --help lists and the environment can set.
bool IsDaemonFlagFile(absl::string_view file);

// INVALID_ARGUMENT naming the flag when a value is unusable (the first one found); reads the
// token and PEM files the security flags name, and the secrets --secrets-file names.
absl::StatusOr<DaemonConfig> DaemonConfigFromFlags();

}  // namespace batchd::server
