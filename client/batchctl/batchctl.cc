// batchctl: command-line client for batchd. Parses argv, picks the command, connects and runs
// it; exit codes are kExitOk / kExitFailure / kExitUsage.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/batchctl/batch_commands.h"
#include "client/batchctl/cache_commands.h"
#include "client/batchctl/command_line.h"
#include "client/batchctl/daemon_commands.h"
#include "client/batchctl/limit_commands.h"
#include "client/batchctl/worker_command.h"
#include "client/cpp/channel.h"

namespace batchd::client {
namespace {

constexpr absl::string_view kDefaultAddress = "127.0.0.1:50051";

constexpr absl::string_view kUsage =
    R"(usage: batchctl [--addr ADDR] [--timeout DUR] COMMAND [ARGS] [FLAGS]

Commands:
  run FILE                   submit a batch, wait for it, print the results table
  submit FILE [--watch]      submit a batch and print its id; --watch follows its progress
  status ID                  show a batch's progress
  results ID [--follow]      show a batch's results; --follow streams them as they finish
  results ID --follow-output TASK
                             print a running task's output as it comes (a worker's
                             batchd.output(), the shell executor's stdout), then its state
  cancel ID [--reason TEXT]  cancel a batch
  add ID FILE [--close]      add FILE's tasks to batch ID (open, or not finished yet)
  close ID                   close an open batch: it finishes once its tasks are final
  cancel-task ID TASK [--reason TEXT]
                             cancel one task; its dependents follow the batch's policy
  complete ID TASK (--output JSON | --error TEXT [--non-retryable]) [--token T]
                             complete a task of executor "external" (e.g. an approval);
                             the token defaults to the one `status` shows
  list [--state S]... [--selector SEL] [--page-size N] [--page-token T]
                             list batches, newest first; SEL: env=prod,team!=web,gpu,!legacy
  tasks ID [--state S]... [--page-size N] [--page-token T]
                             list a batch's tasks: state, layer, why each one waits
  layers FILE                show a batch's execution layers and critical path (dry run)
  executors                  list the daemon's executors
  limits list                list the shared limits: in flight, waiting, rates, throttled
  limits set KEY [--max-in-flight N] [--rate UNITS/PERIOD[:burst=B][:requests]]...
             [--units-header H]
                             configure a shared limit (e.g. --rate 90000/1m:burst=10000)
  limits delete KEY          remove a shared limit; its waiting tasks start
  cache stats                the result cache's counters: entries, bytes, hits, misses, ...
  cache invalidate (--key KEY [--namespace NS] | --namespace NS | --all)
                             drop cached results: one client key, a namespace, or all
  health                     check the daemon; exit 0 only when SERVING
  worker --executor NAME [--slots N] [--name S] [--weight W] -- CMD [ARGS]
                             serve NAME: run CMD per task (task JSON on stdin, stdout = output)
  help                       show this text

FILE is a SubmitBatchRequest in proto JSON form; "-" reads it from stdin. Tasks name shared
limits as "limits": [{"key": "openai", "units": 1200}]; "options" may hold "defaultLimits",
"allowUnknownLimits" and "queueTimeoutMs". A task asks for caching with "cache": {"ttlMs": 60000}
("key", "namespace", "skipLookup" optional); "options": {"defaultCache": {...}} for every task.

Flags (before or after the command):
  --addr ADDR     host:port or unix:/path (default: $BATCHD_ADDR, else 127.0.0.1:50051)
  --timeout DUR   deadline for each call, e.g. 10s, 500ms (default: 10s; health 3s;
                  run and streams wait without one unless given)
  --token-file F  send the bearer token in F (default: $BATCHD_TOKEN_FILE)
  --tls-ca F      use TLS; trust the server certificates signed by the PEM CAs in F
                  (any --tls-* turns TLS on; without --tls-ca the system's roots)
  --tls-cert F --tls-key F   client certificate and key (PEM) for mTLS
  --tls-server-name NAME     name the server certificate must carry (default: the host)

Exit status: 0 success, 1 error or failed tasks, 2 usage error.
)";

using CommandFunction = int (*)(const CommandContext&);

struct Command {
  CommandSyntax syntax;
  CommandFunction run;
};

std::vector<Command> Commands() {
  return {
      {{"run", "run FILE", 1, {}}, RunCommand},
      {{"submit", "submit FILE [--watch]", 1, {"watch"}}, SubmitCommand},
      {{"status", "status ID", 1, {}}, StatusCommand},
      {{"results", "results ID [--follow | --follow-output TASK]", 1, {"follow", "follow-output"}},
       ResultsCommand},
      {{"cancel", "cancel ID [--reason TEXT]", 1, {"reason"}}, CancelCommand},
      {{"add", "add ID FILE [--close]", 2, {"close"}}, AddCommand},
      {{"close", "close ID", 1, {}}, CloseCommand},
      {{"cancel-task", "cancel-task ID TASK [--reason TEXT]", 2, {"reason"}}, CancelTaskCommand},
      {{"complete", kCompleteUsage, 2, {"token", "output", "error", "non-retryable"}},
       CompleteCommand},
      {{"list",
        "list [--state S]... [--selector SEL] [--page-size N] [--page-token T]",
        0,
        {"state", "selector", "page-size", "page-token"}},
       ListCommand},
      {{"tasks",
        "tasks ID [--state S]... [--page-size N] [--page-token T]",
        1,
        {"state", "page-size", "page-token"}},
       TasksCommand},
      {{"layers", "layers FILE", 1, {}}, LayersCommand},
      {{"executors", "executors", 0, {}}, ExecutorsCommand},
      {{"health", "health", 0, {}}, HealthCommand},
      {{"limits list", "limits list", 0, {}}, LimitsListCommand},
      {{"limits set", kLimitsSetUsage, 1, {"max-in-flight", "rate", "units-header"}},
       LimitsSetCommand},
      {{"limits delete", "limits delete KEY", 1, {}}, LimitsDeleteCommand},
      {{"cache stats", "cache stats", 0, {}}, CacheStatsCommand},
      {{"cache invalidate", kCacheInvalidateUsage, 0, {"key", "namespace", "all"}},
       CacheInvalidateCommand},
      {{"worker", kWorkerUsage, 0, {"executor", "slots", "name", "weight"}, true}, WorkerCommand},
  };
}

const Command* FindCommand(const std::vector<Command>& commands, absl::string_view name) {
  const auto it = std::find_if(commands.begin(), commands.end(), [name](const Command& command) {
    return command.syntax.name == name;
  });
  return it == commands.end() ? nullptr : &*it;
}

std::string DefaultAddress() {
  const char* env = std::getenv("BATCHD_ADDR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultAddress);
}

// Full usage for a missing or unknown command; a one-line hint for everything else.
int UsageError(absl::string_view message, bool show_usage = false) {
  std::cerr << "batchctl: " << message << "\n";
  if (show_usage) {
    std::cerr << "\n" << kUsage;
  } else {
    std::cerr << "run 'batchctl help' for usage\n";
  }
  return kExitUsage;
}

CallTimeouts TimeoutsFor(const CommandLine& command_line) {
  CallTimeouts timeouts;
  if (command_line.timeout.has_value()) {
    timeouts.unary = timeouts.process_batch = timeouts.health = *command_line.timeout;
  }
  return timeouts;
}

int TerminalColumns() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 80;
  return size.ws_col;
}

absl::StatusOr<ChannelSecurity> SecurityFor(const CommandLine& command_line) {
  ChannelSecurityFiles files{.token_file = command_line.token_file,
                             .tls_ca_file = command_line.tls_ca,
                             .tls_cert_file = command_line.tls_cert,
                             .tls_key_file = command_line.tls_key,
                             .tls_server_name = command_line.tls_server_name};
  if (files.token_file.empty()) {
    const char* env = std::getenv("BATCHD_TOKEN_FILE");
    if (env != nullptr) files.token_file = env;
  }
  return LoadChannelSecurity(files);
}

int Connect(const CommandLine& command_line, const Command& command) {
  ChannelOptions options;
  options.address = command_line.address;
  absl::StatusOr<ChannelSecurity> security = SecurityFor(command_line);
  if (!security.ok()) return UsageError(security.status().message());
  options.security = *std::move(security);
  auto channel = CreateChannel(options);
  if (!channel.ok()) return UsageError(channel.status().message());
  const BatchClient client(*channel, TimeoutsFor(command_line));
  const CommandContext context{.command_line = command_line,
                               .client = client,
                               .channel = options,
                               .in = std::cin,
                               .out = std::cout,
                               .err = std::cerr,
                               .out_is_tty = isatty(STDOUT_FILENO) == 1,
                               .terminal_columns = TerminalColumns()};
  return command.run(context);
}

int Main(const std::vector<std::string>& args) {
  absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, DefaultAddress());
  if (!command_line.ok()) return UsageError(command_line.status().message());
  if (command_line->help || command_line->command == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command_line->command.empty()) return UsageError("no command given", true);
  // `limits set KEY`, `cache stats`: the subcommand is part of the command's name.
  if (command_line->command == "limits" || command_line->command == "cache") {
    if (command_line->args.empty()) {
      return UsageError(command_line->command == "limits"
                            ? "'limits' needs a subcommand: list, set or delete"
                            : "'cache' needs a subcommand: stats or invalidate");
    }
    command_line->command = absl::StrCat(command_line->command, " ", command_line->args.front());
    command_line->args.erase(command_line->args.begin());
    if (command_line->args_before_double_dash.has_value()) {
      *command_line->args_before_double_dash -=
          std::min<size_t>(*command_line->args_before_double_dash, 1);
    }
  }
  const std::vector<Command> commands = Commands();
  const Command* command = FindCommand(commands, command_line->command);
  if (command == nullptr) {
    return UsageError("unknown command '" + command_line->command + "'", true);
  }
  if (absl::Status syntax = CheckSyntax(*command_line, command->syntax); !syntax.ok()) {
    return UsageError(syntax.message());
  }
  return Connect(*command_line, *command);
}

}  // namespace
}  // namespace batchd::client

int main(int argc, char** argv) {
  return batchd::client::Main(std::vector<std::string>(argv + 1, argv + argc));
}
