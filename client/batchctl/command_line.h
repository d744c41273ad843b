// batchctl's argv: global and command flags, accepted before or after the command
// (`--name value` or `--name=value`; `--` ends flags; `-` is a positional meaning stdin).
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace batchd::client {

struct CommandLine {
  std::string command;                    // "" when none was given
  std::vector<std::string> args;          // positionals after the command
  std::string address;                    // --addr, else the default passed to the parser
  std::optional<absl::Duration> timeout;  // --timeout
  // How to authenticate and check the daemon (files are read by the caller).
  std::string token_file;               // --token-file
  std::string tls_ca;                   // --tls-ca
  std::string tls_cert;                 // --tls-cert
  std::string tls_key;                  // --tls-key
  std::string tls_server_name;          // --tls-server-name
  bool help = false;                    // --help / -h
  bool watch = false;                   // --watch
  bool follow = false;                  // --follow
  std::string reason;                   // --reason
  std::set<std::string> command_flags;  // command-specific flags given, without "--"
  // `batchctl worker`'s flags.
  std::vector<std::string> executors;  // --executor, repeatable
  std::optional<uint32_t> slots;       // --slots, positive
  std::string name;                    // --name
  std::optional<double> weight;        // --weight, positive
  // `batchctl limits set`'s flags.
  std::optional<int64_t> max_in_flight;  // --max-in-flight, positive
  std::vector<std::string> rates;        // --rate, repeatable, as given (see ParseLimitRate)
  std::string units_header;              // --units-header
  // `batchctl cache invalidate`'s flags.
  std::string cache_key;        // --key
  std::string cache_namespace;  // --namespace
  bool all = false;             // --all
  // `batchctl complete`'s flags.
  std::string token;                  // --token (default: looked up in the batch's progress)
  std::optional<std::string> output;  // --output JSON
  std::string error;                  // --error TEXT
  bool non_retryable = false;         // --non-retryable
  bool close = false;                 // `batchctl add`'s --close
  std::string follow_output;          // `batchctl results`' --follow-output TASK
  // `batchctl list` and `batchctl tasks`' filters and paging.
  std::vector<std::string> states;    // --state, repeatable, as given (see state_names.h)
  std::string selector;               // --selector (a label selector, `list` only)
  std::optional<uint32_t> page_size;  // --page-size, positive
  std::string page_token;             // --page-token (a next_page_token)
  // How many of `args` came before "--", when it was given.
  std::optional<size_t> args_before_double_dash;
};

// What a command accepts, for CheckSyntax.
struct CommandSyntax {
  absl::string_view name;
  absl::string_view usage;  // e.g. "cancel ID [--reason TEXT]"
  size_t arg_count = 0;
  std::vector<absl::string_view> flags;  // command-specific flags it accepts
  // `arg_count` arguments, then "--" and a command line of at least one word.
  bool trailing_command = false;
};

// `args` excludes argv[0]. INVALID_ARGUMENT for unknown flags, missing or unexpected flag
// values and unparsable --timeout values. Commands and their arguments are not checked.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                             absl::string_view default_address);

// INVALID_ARGUMENT (naming the usage) when the argument count or a command flag
// does not fit `syntax`.
absl::Status CheckSyntax(const CommandLine& command_line, const CommandSyntax& syntax);

// The arguments after "--" (e.g. the command `batchctl worker` runs); empty without "--".
std::vector<std::string> ArgsAfterDoubleDash(const CommandLine& command_line);

// "10s", "500ms", "1m30s", or a bare number of seconds; must be positive.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text);

}  // namespace batchd::client
