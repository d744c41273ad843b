#include "client/batchctl/command_line.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace batchd::client {
namespace {

struct FlagSpec {
  absl::string_view name;
  bool takes_value;
  bool global;
};

constexpr std::array<FlagSpec, 31> kFlags = {{
    {"addr", true, true},
    {"timeout", true, true},
    {"token-file", true, true},
    {"tls-ca", true, true},
    {"tls-cert", true, true},
    {"tls-key", true, true},
    {"tls-server-name", true, true},
    {"help", false, true},
    {"watch", false, false},
    {"follow", false, false},
    {"reason", true, false},
    {"executor", true, false},
    {"slots", true, false},
    {"name", true, false},
    {"weight", true, false},
    {"max-in-flight", true, false},
    {"rate", true, false},
    {"units-header", true, false},
    {"key", true, false},
    {"namespace", true, false},
    {"all", false, false},
    {"token", true, false},
    {"output", true, false},
    {"error", true, false},
    {"non-retryable", false, false},
    {"close", false, false},
    {"follow-output", true, false},
    {"state", true, false},
    {"selector", true, false},
    {"page-size", true, false},
    {"page-token", true, false},
}};

const FlagSpec* FindFlag(absl::string_view name) {
  const auto* const it = std::find_if(kFlags.begin(), kFlags.end(),
                                      [name](const FlagSpec& flag) { return flag.name == name; });
  return it == kFlags.end() ? nullptr : &*it;
}

// --executor, --slots, --name, --weight.
absl::Status ApplyWorkerFlag(absl::string_view name, const std::string& value, CommandLine& out) {
  if (name == "executor") {
    if (value.empty()) return absl::InvalidArgumentError("--executor must not be empty");
    out.executors.push_back(value);
  } else if (name == "slots") {
    uint32_t slots = 0;
    if (!absl::SimpleAtoi(value, &slots) || slots == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --slots '", value, "' (a positive integer)"));
    }
    out.slots = slots;
  } else if (name == "name") {
    out.name = value;
  } else if (name == "weight") {
    double weight = 0;
    if (!absl::SimpleAtod(value, &weight) || !std::isfinite(weight) || weight <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --weight '", value, "' (a positive number)"));
    }
    out.weight = weight;
  }
  return absl::OkStatus();
}

// --max-in-flight, --rate, --units-header (a rate's text is checked by `limits set`).
absl::Status ApplyLimitFlag(absl::string_view name, const std::string& value, CommandLine& out) {
  if (name == "max-in-flight") {
    int64_t max_in_flight = 0;
    if (!absl::SimpleAtoi(value, &max_in_flight) || max_in_flight <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --max-in-flight '", value, "' (a positive integer)"));
    }
    out.max_in_flight = max_in_flight;
  } else if (name == "rate") {
    out.rates.push_back(value);
  } else if (name == "units-header") {
    if (value.empty()) return absl::InvalidArgumentError("--units-header must not be empty");
    out.units_header = value;
  }
  return absl::OkStatus();
}

// --state, --selector, --page-size, --page-token (states and tokens are checked by their command
// and the daemon).
absl::Status ApplyListingFlag(absl::string_view name, const std::string& value, CommandLine& out) {
  if (name == "state") {
    if (value.empty()) return absl::InvalidArgumentError("--state names a state");
    out.states.push_back(value);
  } else if (name == "selector") {
    out.selector = value;
  } else if (name == "page-size") {
    uint32_t page_size = 0;
    if (!absl::SimpleAtoi(value, &page_size) || page_size == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --page-size '", value, "' (a positive integer)"));
    }
    out.page_size = page_size;
  } else if (name == "page-token") {
    if (value.empty()) return absl::InvalidArgumentError("--page-token must not be empty");
    out.page_token = value;
  }
  return absl::OkStatus();
}

// --token-file, --tls-*: values are paths (or a name) and must not be empty.
std::string* SecurityFlagField(absl::string_view name, CommandLine& out) {
  if (name == "token-file") return &out.token_file;
  if (name == "tls-ca") return &out.tls_ca;
  if (name == "tls-cert") return &out.tls_cert;
  if (name == "tls-key") return &out.tls_key;
  if (name == "tls-server-name") return &out.tls_server_name;
  return nullptr;
}

absl::Status ApplyFlag(const FlagSpec& flag, const std::string& value, CommandLine& out) {
  if (std::string* field = SecurityFlagField(flag.name, out); field != nullptr) {
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag.name, " must not be empty"));
    }
    *field = value;
  } else if (flag.name == "addr") {
    out.address = value;
  } else if (flag.name == "timeout") {
    ASSIGN_OR_RETURN(out.timeout, ParseTimeout(value));
  } else if (flag.name == "help") {
    out.help = true;
  } else if (flag.name == "watch") {
    out.watch = true;
  } else if (flag.name == "follow") {
    out.follow = true;
  } else if (flag.name == "reason") {
    out.reason = value;
  } else if (flag.name == "key") {
    if (value.empty()) return absl::InvalidArgumentError("--key must not be empty");
    out.cache_key = value;
  } else if (flag.name == "namespace") {
    out.cache_namespace = value;
  } else if (flag.name == "all") {
    out.all = true;
  } else if (flag.name == "token") {
    if (value.empty()) return absl::InvalidArgumentError("--token must not be empty");
    out.token = value;
  } else if (flag.name == "output") {
    out.output = value;
  } else if (flag.name == "error") {
    if (value.empty()) return absl::InvalidArgumentError("--error must not be empty");
    out.error = value;
  } else if (flag.name == "non-retryable") {
    out.non_retryable = true;
  } else if (flag.name == "close") {
    out.close = true;
  } else if (flag.name == "follow-output") {
    if (value.empty()) return absl::InvalidArgumentError("--follow-output names a task");
    out.follow_output = value;
  } else if (flag.name == "state" || flag.name == "selector" || flag.name == "page-size" ||
             flag.name == "page-token") {
    RETURN_IF_ERROR(ApplyListingFlag(flag.name, value, out));
  } else if (flag.name == "max-in-flight" || flag.name == "rate" || flag.name == "units-header") {
    RETURN_IF_ERROR(ApplyLimitFlag(flag.name, value, out));
  } else {
    RETURN_IF_ERROR(ApplyWorkerFlag(flag.name, value, out));
  }
  if (!flag.global) out.command_flags.emplace(flag.name);
  return absl::OkStatus();
}

void AddPositional(const std::string& arg, CommandLine& out) {
  if (out.command.empty()) {
    out.command = arg;
  } else {
    out.args.push_back(arg);
  }
}

// Parses the flag at args[*index], consuming its value argument when it has one.
absl::Status ParseFlag(const std::vector<std::string>& args, size_t* index, CommandLine& out) {
  absl::string_view arg = args[*index];
  if (arg == "-h") arg = "--help";
  if (!absl::StartsWith(arg, "--"))
    return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
  absl::string_view name = arg.substr(2);
  std::optional<std::string> value;
  if (const size_t eq = name.find('='); eq != absl::string_view::npos) {
    value = std::string(name.substr(eq + 1));
    name = name.substr(0, eq);
  }
  const FlagSpec* flag = FindFlag(name);
  if (flag == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown flag '--", name, "'"));
  if (!flag->takes_value && value.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, " takes no value"));
  }
  if (flag->takes_value && !value.has_value()) {
    if (*index + 1 >= args.size()) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    value = args[++*index];
  }
  return ApplyFlag(*flag, value.value_or(""), out);
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                             absl::string_view default_address) {
  CommandLine out;
  out.address = std::string(default_address);
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg == "-" || !absl::StartsWith(arg, "-")) {
      AddPositional(arg, out);
    } else if (arg == "--") {
      flags_ended = true;
      out.args_before_double_dash = out.args.size();
    } else {
      RETURN_IF_ERROR(ParseFlag(args, &i, out));
    }
  }
  return out;
}

std::vector<std::string> ArgsAfterDoubleDash(const CommandLine& command_line) {
  if (!command_line.args_before_double_dash.has_value()) return {};
  return {command_line.args.begin() +
              static_cast<std::ptrdiff_t>(*command_line.args_before_double_dash),
          command_line.args.end()};
}

absl::Status CheckSyntax(const CommandLine& command_line, const CommandSyntax& syntax) {
  if (syntax.trailing_command && ArgsAfterDoubleDash(command_line).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", syntax.name, "' needs a command after '--'; usage: batchctl ", syntax.usage));
  }
  const size_t arg_count =
      syntax.trailing_command ? *command_line.args_before_double_dash : command_line.args.size();
  if (arg_count != syntax.arg_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", syntax.name, "' takes ", syntax.arg_count,
        syntax.arg_count == 1 ? " argument" : " arguments", "; usage: batchctl ", syntax.usage));
  }
  for (const std::string& flag : command_line.command_flags) {
    if (std::find(syntax.flags.begin(), syntax.flags.end(), flag) == syntax.flags.end()) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", flag, " does not apply to '",
                                                     syntax.name, "'; usage: batchctl ",
                                                     syntax.usage));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  absl::Duration timeout;
  double seconds = 0;
  if (!absl::ParseDuration(text, &timeout)) {
    if (!absl::SimpleAtod(text, &seconds)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --timeout '", text, "' (e.g. 10s, 500ms, 2m)"));
    }
    timeout = absl::Seconds(seconds);
  }
  if (timeout <= absl::ZeroDuration() || timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("--timeout must be positive, got '", text, "'"));
  }
  return timeout;
}

}  // namespace batchd::client
