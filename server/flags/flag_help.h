// batchd --help: Abseil's help lists a flag under its registered name (log_level), so the
// daemon prints its own, in Abseil's layout, with the documented dashed names (--log-level).
// Reads the flag registry: call from main's thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace batchd::server {

// What a help flag asks to list.
struct HelpRequest {
  enum class Scope {
    kDaemon,    // --help, --helpshort, --helppackage: the daemon's own flags
    kAll,       // --helpfull: every flag, Abseil's own included
    kMatching,  // --help=S, --helpmatch=S: flags whose name, help or file contains S
    kFile,      // --helpon=F: flags defined in a file named F.<ext>
  };
  Scope scope = Scope::kDaemon;
  std::string pattern;  // kMatching, kFile
};

// The first help flag in `args` (args[0] is the program; nothing after "--" counts).
std::optional<HelpRequest> FindHelpRequest(const std::vector<std::string>& args);

// The help text: `program: usage`, then the selected flags grouped by the file defining them,
// each as "--dashed-name (help); default: value;" wrapped at 80 columns.
std::string FlagsHelp(const HelpRequest& request, absl::string_view program,
                      absl::string_view usage,
                      absl::FunctionRef<bool(absl::string_view file)> is_daemon_file);

}  // namespace batchd::server
