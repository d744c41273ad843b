#include "server/flags/flag_names.h"

#include <fstream>
#include <optional>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"

namespace batchd::server {
namespace {

// Flag files may name flag files; a cycle would otherwise never end.
constexpr int kMaxFlagfileDepth = 16;

std::string UnderscoredName(absl::string_view name) {
  std::string underscored(name);
  for (char& c : underscored) {
    if (c == '-') c = '_';
  }
  return underscored;
}

// The registered flag `name` means, and whether it was given as --noNAME (bool flags only).
struct NamedFlag {
  const absl::CommandLineFlag* flag = nullptr;
  bool negated = false;
};

std::optional<NamedFlag> Lookup(absl::string_view name) {
  if (const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(UnderscoredName(name))) {
    return NamedFlag{flag, false};
  }
  if (absl::StartsWith(name, "no")) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(UnderscoredName(name.substr(2)));
    if (flag != nullptr && flag->IsOfType<bool>()) return NamedFlag{flag, true};
  }
  return std::nullopt;
}

// "log-level,listen" -> "log_level,listen", names of no flag kept.
std::string NormalizeNameList(absl::string_view names) {
  std::vector<std::string> normalized;
  for (absl::string_view name : absl::StrSplit(names, ',')) {
    const std::optional<NamedFlag> named = Lookup(name);
    normalized.push_back(named.has_value() && !named->negated ? std::string(named->flag->Name())
                                                              : std::string(name));
  }
  return absl::StrJoin(normalized, ",");
}

absl::StatusOr<std::vector<std::string>> ReadFlagfile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::InvalidArgumentError(absl::StrCat("Can't open flagfile ", path));
  std::vector<std::string> args;
  for (std::string line; std::getline(file, line);) {
    const absl::string_view stripped = absl::StripLeadingAsciiWhitespace(line);
    if (stripped.empty() || stripped[0] == '#') continue;
    if (stripped == "--") {
      return absl::InvalidArgumentError("Flagfile can't contain position arguments or --");
    }
    if (stripped[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("Unexpected line in the flagfile ", path, ": ", line));
    }
    args.emplace_back(stripped);
  }
  return args;
}

// Abseil would refuse the value too, but naming the flag as registered (allow_insecure_remote):
// it is tried here on the flag itself, whose value is put back. Not with absl::FlagSaver: that
// logs "Restore saved value of ..." on stderr for each flag it restores, which would break the
// JSON log lines (--log-format=json) before the first one is written.
absl::Status CheckValue(const absl::CommandLineFlag& flag, absl::string_view value) {
  if (flag.Name() == "fromenv" || flag.Name() == "tryfromenv" || flag.Name() == "undefok") {
    return absl::OkStatus();
  }
  absl::CommandLineFlag& target = *absl::FindCommandLineFlag(flag.Name());
  const std::string saved = target.CurrentValue();
  std::string error;
  if (target.ParseFrom(value, &error)) {
    std::string restore_error;  // a value Abseil unparsed always parses back
    target.ParseFrom(saved, &restore_error);
    return absl::OkStatus();
  }
  const std::string dashed = DashedFlagName(flag.Name());
  if (error.empty()) {
    error = absl::StrCat("Illegal value '", value, "' specified for flag '", dashed, "'");
  }
  return absl::InvalidArgumentError(absl::StrReplaceAll(
      error, {{absl::StrCat("'", flag.Name(), "'"), absl::StrCat("'", dashed, "'")}}));
}

class FlagNameRewriter {
 public:
  explicit FlagNameRewriter(std::string program) : out_{std::move(program)} {}
  // Appends args[first...] rewritten; `depth` counts the flag files they come from.
  absl::Status Append(const std::vector<std::string>& args, size_t first, int depth);
  std::vector<std::string> TakeResult() && { return std::move(out_); }

 private:
  absl::Status ExpandFlagfiles(absl::string_view paths, int depth);

  std::vector<std::string> out_;
};

absl::Status FlagNameRewriter::Append(const std::vector<std::string>& args, size_t first,
                                      int depth) {
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // flag files cannot hold it (ReadFlagfile): the rest is positional
      out_.insert(out_.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      return absl::OkStatus();
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out_.push_back(arg);
      continue;
    }
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const absl::string_view body = absl::string_view(arg).substr(dashes);
    const size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    const std::optional<absl::string_view> value =
        eq == absl::string_view::npos ? std::nullopt
                                      : std::optional<absl::string_view>(body.substr(eq + 1));
    const std::optional<NamedFlag> named = Lookup(name);
    if (!named.has_value()) {
      out_.push_back(arg);
      continue;
    }
    const absl::CommandLineFlag& flag = *named->flag;
    // --flag value: the next argument is the value, whatever it looks like.
    const bool value_follows = !value.has_value() && !flag.IsOfType<bool>() && i + 1 < args.size();
    const absl::string_view given = value.has_value() ? *value
                                    : value_follows   ? absl::string_view(args[i + 1])
                                                      : absl::string_view();
    if (value_follows) ++i;
    if (flag.Name() == "flagfile") {
      RETURN_IF_ERROR(ExpandFlagfiles(given, depth));
      continue;
    }
    if (value.has_value() || value_follows) {
      RETURN_IF_ERROR(CheckValue(flag, given));
    }
    std::string rewritten = absl::StrCat(absl::string_view(arg).substr(0, dashes),
                                         named->negated ? "no" : "", flag.Name());
    const bool lists_names =
        flag.Name() == "fromenv" || flag.Name() == "tryfromenv" || flag.Name() == "undefok";
    const std::string new_value = lists_names ? NormalizeNameList(given) : std::string(given);
    if (value.has_value()) {
      out_.push_back(absl::StrCat(rewritten, "=", new_value));
    } else {
      out_.push_back(std::move(rewritten));
      if (value_follows) out_.push_back(new_value);
    }
  }
  return absl::OkStatus();
}

absl::Status FlagNameRewriter::ExpandFlagfiles(absl::string_view paths, int depth) {
  if (depth >= kMaxFlagfileDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("--flagfile nested deeper than ", kMaxFlagfileDepth, " files"));
  }
  for (absl::string_view path : absl::StrSplit(paths, ',', absl::SkipEmpty())) {
    ASSIGN_OR_RETURN(const std::vector<std::string> lines, ReadFlagfile(std::string(path)));
    RETURN_IF_ERROR(Append(lines, 0, depth + 1));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DashedFlagName(absl::string_view flag_name) {
  std::string dashed(flag_name);
  for (char& c : dashed) {
    if (c == '_') c = '-';
  }
  return dashed;
}

absl::StatusOr<std::vector<std::string>> NormalizeFlagNames(const std::vector<std::string>& args) {
  if (args.empty()) return args;
  FlagNameRewriter rewriter(args[0]);
  RETURN_IF_ERROR(rewriter.Append(args, 1, 0));
  return std::move(rewriter).TakeResult();
}

}  // namespace batchd::server
