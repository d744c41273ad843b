// The input of a `shell` task, {"argv": [...], "env": {...}, "cwd": "...", "stdin": "..."},
// checked field by field so a bad task fails with an error naming the field. Pure; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace batchd::core {

struct ShellInput {
  std::vector<std::string> argv;  // non-empty; exec'd directly, never through a shell
  std::vector<std::pair<std::string, std::string>> env;  // in the task's order
  std::string cwd;                                       // empty: the daemon's
  std::optional<std::string> stdin_data;                 // none: /dev/null
};

// INVALID_ARGUMENT with a "shell: input.<field> ..." message when a field is missing, has the
// wrong type, or holds text a process cannot receive (NUL bytes, '=' in an env name).
absl::StatusOr<ShellInput> ParseShellInput(const boost::json::value& input);

}  // namespace batchd::core
