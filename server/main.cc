// batchd: the gRPC batch-execution daemon. Reads its flags into one validated DaemonConfig, then
// runs a Daemon (server/daemon/daemon.h) until SIGTERM/SIGINT, which drains in-flight calls for up
// to
// --shutdown-grace and exits 0. `batchd --check-journal` verifies the journal and exits (0
// intact, 1 damaged or unusable). Exit codes: 0 after a signal, 1 when the address or the data
// directory cannot be used (and for what Abseil's parser rejects), 2 for unusable flag values.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>  // environ

#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/string_view.h"
#include "server/daemon/daemon.h"
#include "server/daemon/daemon_config.h"
#include "server/flags/flag_environment.h"
#include "server/flags/flag_help.h"
#include "server/flags/flag_names.h"
#include "server/journal/journal_check.h"
#include "server/observability/log_setup.h"

namespace {

using batchd::server::kExitBadFlags;
using batchd::server::kExitCannotServe;

// Abseil's parser exits 1 for an unknown flag or a value of the wrong type; flag files it would
// have read are read by the name pre-pass, whose errors get the same code.
constexpr int kExitUnparsable = 1;
// Abseil's --help exits 1 too.
constexpr int kExitHelp = 1;

constexpr char kUsage[] =
    "gRPC batch-execution daemon.\n"
    "  batchd [--listen=host:port|unix:/path] [--log-level=info] [--shutdown-grace=5s]\n"
    "Every flag can also come from a --flagfile=FILE (one --flag=value per line) or from the\n"
    "environment as BATCHD_<NAME> (--log-level: BATCHD_LOG_LEVEL); the command line wins.";

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Sets the flags from BATCHD_* variables, then from the command line (and its flag files), so
// the command line wins. Returns the BATCHD_* variables that name no flag, or an exit code.
std::variant<std::vector<std::string>, int> ParseFlags(int argc, char** argv) {
  const auto is_daemon_flag = [](const absl::CommandLineFlag& flag) {
    return batchd::server::IsDaemonFlagFile(flag.Filename());
  };
  absl::StatusOr<std::vector<std::string>> unknown_variables =
      batchd::server::ApplyFlagsFromEnvironment(environ, is_daemon_flag);
  if (!unknown_variables.ok()) {
    std::cerr << "batchd: " << unknown_variables.status().message() << std::endl;
    return kExitBadFlags;
  }
  absl::StatusOr<std::vector<std::string>> args =
      batchd::server::NormalizeFlagNames(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) {
    std::cerr << "ERROR: " << args.status().message() << std::endl;
    return kExitUnparsable;
  }
  if (const auto help = batchd::server::FindHelpRequest(*args); help.has_value()) {
    const absl::string_view program = (*args)[0];
    std::cout << batchd::server::FlagsHelp(*help, program.substr(program.rfind('/') + 1), kUsage,
                                           batchd::server::IsDaemonFlagFile);
    return kExitHelp;
  }
  std::vector<char*> parsed_argv;
  for (std::string& arg : *args) parsed_argv.push_back(arg.data());
  parsed_argv.push_back(nullptr);
  absl::ParseCommandLine(static_cast<int>(parsed_argv.size() - 1), parsed_argv.data());
  return *std::move(unknown_variables);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;  // for what Abseil still prints (--version, flag suggestions)
  usage.contains_help_flags = batchd::server::IsDaemonFlagFile;
  usage.contains_helpshort_flags = batchd::server::IsDaemonFlagFile;
  absl::SetFlagsUsageConfig(usage);
  std::variant<std::vector<std::string>, int> unknown_variables = ParseFlags(argc, argv);
  if (const int* exit_code = std::get_if<int>(&unknown_variables)) return *exit_code;
  absl::StatusOr<batchd::server::DaemonConfig> config = batchd::server::DaemonConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "batchd: " << config.status().message() << std::endl;
    return kExitBadFlags;
  }
  // Logs go to stderr: stdout carries only the "listening" line.
  batchd::server::ConfigureLogging(config->daemon.log_format, config->daemon.log_level);
  for (const std::string& variable : std::get<std::vector<std::string>>(unknown_variables)) {
    spdlog::warn("ignoring {}: no daemon flag has that name", variable);
  }
  for (const std::string& warning : config->security_warnings) spdlog::warn("{}", warning);

  // Blocked before gRPC starts any thread, so every thread inherits the mask and the signals
  // reach only sigwait: no work happens in a signal handler.
  const sigset_t shutdown_signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  if (config->daemon.check_journal) {
    const batchd::server::JournalCheck check =
        batchd::server::CheckJournal(config->daemon.data_dir);
    for (const std::string& line : check.lines) std::cout << line << "\n";
    return check.intact ? 0 : kExitCannotServe;
  }
  batchd::server::Daemon daemon(*std::move(config));
  return daemon.Run(shutdown_signals);
}
