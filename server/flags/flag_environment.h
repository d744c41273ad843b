// Configuration from the environment: every daemon flag --some-name (registered as some_name)
// can also be set by the variable BATCHD_SOME_NAME. Applied before absl::ParseCommandLine, so flags
// given on the command line (or in a --flagfile) win. Call from main's thread only, before other
// threads.
#pragma once

#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::server {

inline constexpr absl::string_view kEnvironmentPrefix = "BATCHD_";

// "log-level" or "log_level" -> "BATCHD_LOG_LEVEL".
std::string EnvironmentVariableFor(absl::string_view flag_name);

// For each flag that `is_daemon_flag` selects, parses the value of its variable in `environment`
// (a NULL-terminated "NAME=value" array such as environ) into the flag; unset or empty variables
// are skipped. INVALID_ARGUMENT naming the variable and the flag (dashed) when a value does not
// parse. Returns the BATCHD_* variables that name no daemon flag (batchctl's BATCHD_ADDR and
// BATCHD_TOKEN_FILE excepted), for a warning.
absl::StatusOr<std::vector<std::string>> ApplyFlagsFromEnvironment(
    const char* const* environment,
    absl::FunctionRef<bool(const absl::CommandLineFlag&)> is_daemon_flag);

}  // namespace batchd::server
