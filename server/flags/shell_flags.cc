#include "server/flags/shell_flags.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

ABSL_FLAG(bool, enable_shell, false,
          "Register the 'shell' executor, which runs programs as the daemon's user: "
          "input {\"argv\": [program, args...], \"env\": {...}, \"cwd\": \"...\", "
          "\"stdin\": \"...\"}, argv exec'd directly (never through a shell; argv[0] "
          "without '/' is looked up in the child's PATH). Off by default: without it "
          "a task naming 'shell' is rejected at submit as an unknown executor");
ABSL_FLAG(std::vector<std::string>, shell_env_allowlist,
          std::vector<std::string>({"PATH", "HOME", "LANG"}),
          "Comma-separated names of the daemon's environment variables a shell task's "
          "program inherits; it gets no others, only these plus the task's input.env");
ABSL_FLAG(absl::Duration, shell_kill_grace, absl::Seconds(2),
          "On timeout or cancel a shell task's process group gets SIGTERM, then "
          "SIGKILL this long after");
ABSL_FLAG(uint64_t, shell_output_limit, uint64_t{1} << 20,
          "Bytes of stdout and of stderr kept per shell task (each); the rest is "
          "read and dropped, and the output says *_truncated: true");
ABSL_FLAG(uint64_t, shell_rlimit_cpu, 0,
          "RLIMIT_CPU of shell tasks' programs, in seconds (0: the daemon's)");
ABSL_FLAG(uint64_t, shell_rlimit_as, 0,
          "RLIMIT_AS (address space) of shell tasks' programs, in bytes (0: the "
          "daemon's)");
ABSL_FLAG(uint64_t, shell_rlimit_nofile, 0,
          "RLIMIT_NOFILE of shell tasks' programs (0: the daemon's)");

namespace batchd::server {
namespace {

constexpr absl::Duration kMaxKillGrace = absl::Minutes(10);
constexpr uint64_t kMaxOutputLimit = uint64_t{1} << 30;

}  // namespace

absl::StatusOr<ShellConfig> ShellConfigFromFlags() {
  ShellConfig config;
  config.enabled = absl::GetFlag(FLAGS_enable_shell);
  core::ShellOptions& options = config.options;
  options.env_allowlist = absl::GetFlag(FLAGS_shell_env_allowlist);
  for (const std::string& name : options.env_allowlist) {
    if (name.empty() || absl::StrContains(name, '=')) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --shell-env-allowlist: '", name, "' is not a variable name"));
    }
  }
  const absl::Duration grace = absl::GetFlag(FLAGS_shell_kill_grace);
  if (grace < absl::ZeroDuration() || grace > kMaxKillGrace) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --shell-kill-grace ", absl::FormatDuration(grace),
                     ": must be between 0s and ", absl::FormatDuration(kMaxKillGrace)));
  }
  options.kill_grace = std::chrono::milliseconds(absl::ToInt64Milliseconds(grace));
  const uint64_t limit = absl::GetFlag(FLAGS_shell_output_limit);
  if (limit > kMaxOutputLimit) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --shell-output-limit ", limit,
                                                   ": must be at most ", kMaxOutputLimit));
  }
  options.output_limit = static_cast<size_t>(limit);
  options.limits.cpu_seconds = absl::GetFlag(FLAGS_shell_rlimit_cpu);
  options.limits.address_space_bytes = absl::GetFlag(FLAGS_shell_rlimit_as);
  options.limits.open_files = absl::GetFlag(FLAGS_shell_rlimit_nofile);
  return config;
}

absl::Status RegisterConfiguredShellExecutor(const ShellConfig& config,
                                             core::ExecutorEnvironment& environment) {
  if (!config.enabled) return absl::OkStatus();
  return core::RegisterShellExecutor(environment.registry, environment.io, config.options);
}

}  // namespace batchd::server
