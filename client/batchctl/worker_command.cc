#include "client/batchctl/worker_command.h"

#include <unistd.h>

#include <array>
#include <climits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cpp/stop_signal_watcher.h"
#include "client/worker/process_task_handler.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere

namespace batchd::client {
namespace {

std::vector<std::string> OwnEnvironment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  return env;
}

}  // namespace

absl::StatusOr<WorkerSessionOptions> WorkerOptionsFromCommandLine(const CommandLine& command_line,
                                                                  absl::string_view default_name) {
  if (command_line.executors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'worker' needs at least one --executor; usage: batchctl ", kWorkerUsage));
  }
  WorkerSessionOptions options;
  options.address = command_line.address;
  options.executors = command_line.executors;
  options.name = command_line.name.empty() ? std::string(default_name) : command_line.name;
  options.slots = command_line.slots.value_or(1);
  options.weight = command_line.weight.value_or(1.0);
  return options;
}

std::string DefaultWorkerName() {
  std::array<char, HOST_NAME_MAX + 1> host{};
  if (gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') {
    return absl::StrCat(getpid());
  }
  return absl::StrCat(host.data(), "-", getpid());
}

int WorkerCommand(const CommandContext& context) {
  absl::StatusOr<WorkerSessionOptions> options =
      WorkerOptionsFromCommandLine(context.command_line, DefaultWorkerName());
  if (!options.ok()) {
    context.err << "batchctl: " << options.status().message()
                << "\nrun 'batchctl help' for usage\n";
    return kExitUsage;
  }
  context.err << "batchctl worker '" << options->name << "': serving "
              << absl::StrJoin(options->executors, ", ") << " with " << options->slots
              << (options->slots == 1 ? " slot" : " slots") << " via " << options->address << "\n";
  options->security = context.channel.security;
  ProcessTaskHandler handler(
      {.argv = ArgsAfterDoubleDash(context.command_line), .env = OwnEnvironment()});
  WorkerSession session(*std::move(options), handler);
  absl::Status status;
  {
    const StopSignalWatcher watcher([&session] { session.Stop(); });
    status = session.Run();
  }
  if (!status.ok()) return ReportError(context, status);
  return kExitOk;
}

}  // namespace batchd::client
