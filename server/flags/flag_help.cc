#include "server/flags/flag_help.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/flags/flag_names.h"

namespace batchd::server {
namespace {

constexpr size_t kLineWidth = 80;

bool Selected(const HelpRequest& request, const absl::CommandLineFlag& flag,
              absl::FunctionRef<bool(absl::string_view)> is_daemon_file) {
  switch (request.scope) {
    case HelpRequest::Scope::kDaemon:
      return is_daemon_file(flag.Filename());
    case HelpRequest::Scope::kAll:
      return true;
    case HelpRequest::Scope::kMatching:
      return absl::StrContains(flag.Filename(), request.pattern) ||
             absl::StrContains(flag.Name(), request.pattern) ||
             absl::StrContains(DashedFlagName(flag.Name()), request.pattern) ||
             absl::StrContains(flag.Help(), request.pattern);
    case HelpRequest::Scope::kFile: {
      const std::string file = flag.Filename();  // a string by value: keep it for the view
      absl::string_view base = file;
      base = base.substr(base.rfind('/') + 1);  // npos + 1 == 0
      return base.substr(0, base.find('.')) == request.pattern;
    }
  }
  return false;
}

// "    --name (help); default: value;" with words wrapped, continuation lines indented by 6; as
// in Abseil's help, "default: value;" is never split.
void AppendFlag(const absl::CommandLineFlag& flag, std::string& out) {
  const auto shown = [&flag](std::string value) {
    return flag.IsOfType<std::string>() ? absl::StrCat("\"", value, "\"") : value;
  };
  std::vector<std::string> words =
      absl::StrSplit(absl::StrCat("--", DashedFlagName(flag.Name()), " (", flag.Help(), ");"),
                     absl::ByAnyChar(" \n"), absl::SkipEmpty());
  words.push_back(absl::StrCat("default: ", shown(flag.DefaultValue()), ";"));
  if (const std::string current = flag.CurrentValue(); current != flag.DefaultValue()) {
    words.push_back(absl::StrCat("currently: ", shown(current), ";"));
  }
  std::string line = "    ";
  bool line_has_word = false;
  for (const std::string& word : words) {
    if (line_has_word && line.size() + 1 + word.size() > kLineWidth) {
      absl::StrAppend(&out, line, "\n");
      line = "      ";
      line_has_word = false;
    }
    absl::StrAppend(&line, line_has_word ? " " : "", word);
    line_has_word = true;
  }
  absl::StrAppend(&out, line, "\n");
}

}  // namespace

std::optional<HelpRequest> FindHelpRequest(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    const size_t eq = arg.find('=');
    const absl::string_view name = arg.substr(0, eq);
    const std::string value =
        eq == absl::string_view::npos ? std::string() : std::string(arg.substr(eq + 1));
    if (name == "help" || name == "helpshort" || name == "helppackage") {
      if (name == "help" && !value.empty())
        return HelpRequest{HelpRequest::Scope::kMatching, value};
      return HelpRequest{HelpRequest::Scope::kDaemon, ""};
    }
    if (name == "helpfull") return HelpRequest{HelpRequest::Scope::kAll, ""};
    if (name == "helpmatch") return HelpRequest{HelpRequest::Scope::kMatching, value};
    if (name == "helpon") return HelpRequest{HelpRequest::Scope::kFile, value};
  }
  return std::nullopt;
}

std::string FlagsHelp(const HelpRequest& request, absl::string_view program,
                      absl::string_view usage,
                      absl::FunctionRef<bool(absl::string_view file)> is_daemon_file) {
  // file -> dashed name -> flag: Abseil's order.
  std::map<std::string, std::map<std::string, const absl::CommandLineFlag*>> by_file;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->IsRetired() || !Selected(request, *flag, is_daemon_file)) continue;
    by_file[std::string(flag->Filename())][DashedFlagName(name)] = flag;
  }
  std::string out = absl::StrCat(program, ": ", usage, "\n\n");
  for (const auto& [file, flags] : by_file) {
    absl::StrAppend(&out, "  Flags from ", file, ":\n");
    for (const auto& [name, flag] : flags) AppendFlag(*flag, out);
    absl::StrAppend(&out, "\n");
  }
  if (by_file.empty()) absl::StrAppend(&out, "  No flags matched.\n\n");
  absl::StrAppend(&out,
                  "Try --helpfull to get a list of all flags or --help=substring shows help for\n"
                  "flags which include specified substring in either in the name, or "
                  "description or\npath.\n");
  return out;
}

}  // namespace batchd::server
