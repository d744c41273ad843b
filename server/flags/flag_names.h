// The daemon's flags are documented with dashes (--log-level) while Abseil names a flag after its
// C++ identifier (log_level) and does not map one to the other. This pre-pass rewrites argv (and
// the flag files it names) into Abseil's spelling before absl::ParseCommandLine, with Abseil's
// public API only. Call from main's thread, after every flag is registered (any time in main).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::server {

// "log_level" -> "log-level": how a flag is spelled in batchd's documentation and messages.
std::string DashedFlagName(absl::string_view flag_name);

// `args` (args[0] is the program) with each flag spelled as Abseil registers it: a name that
// names a registered flag once its dashes are read as underscores is rewritten (--log-level=x
// and -log-level x become --log_level=x and -log_level x, --nocheck-journal becomes
// --nocheck_journal), as are such names listed in --fromenv, --tryfromenv and --undefok. Each
// --flagfile=a,b (or --flagfile a,b) is replaced, at its position, by the flags in its files
// read as Abseil reads them (blank lines and '#' comments skipped, leading whitespace
// stripped), themselves rewritten, so the command line after it still wins. Values, positional
// arguments, everything after "--" and names of no flag are kept as given, so Abseil reports
// an unknown flag as it was typed. INVALID_ARGUMENT with Abseil's message when a flag file
// cannot be read or holds a line that is not a flag, or when a value does not parse as its
// flag's type (then naming the flag dashed, where Abseil would name it as registered).
absl::StatusOr<std::vector<std::string>> NormalizeFlagNames(const std::vector<std::string>& args);

}  // namespace batchd::server
