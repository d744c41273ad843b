#include "core/executors/shell/shell_input.h"

#include <boost/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/json_string_view.h"
#include "core/base/status_macros.h"

namespace batchd::core {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("shell: input.", field, " ", problem));
}

// Process arguments, environment entries and paths are C strings: a NUL would cut them short.
absl::StatusOr<std::string> CString(const boost::json::value& value, absl::string_view field) {
  const boost::json::string* s = value.if_string();
  if (s == nullptr) return FieldError(field, "must be a string");
  if (absl::StrContains(View(*s), '\0')) return FieldError(field, "must not contain NUL");
  return std::string(View(*s));
}

absl::Status ParseArgv(const boost::json::value* argv, ShellInput& out) {
  if (argv == nullptr) {
    return FieldError("argv", "is required: an array of strings, the program and its arguments");
  }
  if (argv->is_string()) {
    return FieldError("argv",
                      "must be an array of strings, not a string (no shell interpretation)");
  }
  const boost::json::array* items = argv->if_array();
  if (items == nullptr) return FieldError("argv", "must be an array of strings");
  if (items->empty()) return FieldError("argv", "must not be empty: argv[0] names the program");
  for (size_t i = 0; i < items->size(); ++i) {
    ASSIGN_OR_RETURN(std::string arg, CString((*items)[i], absl::StrCat("argv[", i, "]")));
    out.argv.push_back(std::move(arg));
  }
  if (out.argv[0].empty()) return FieldError("argv[0]", "must name a program, not be empty");
  return absl::OkStatus();
}

absl::Status ParseEnv(const boost::json::value& env, ShellInput& out) {
  const boost::json::object* vars = env.if_object();
  if (vars == nullptr) return FieldError("env", "must be an object of strings");
  for (const auto& [key, value] : *vars) {
    const absl::string_view name(key.data(), key.size());
    if (name.empty() || absl::StrContains(name, '=') || absl::StrContains(name, '\0')) {
      return FieldError(absl::StrCat("env[\"", name, "\"]"),
                        "has an invalid name: it must be non-empty, without '=' or NUL");
    }
    ASSIGN_OR_RETURN(std::string text, CString(value, absl::StrCat("env.", name)));
    out.env.emplace_back(std::string(name), std::move(text));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ShellInput> ParseShellInput(const boost::json::value& input) {
  const boost::json::object* fields = input.if_object();
  if (fields == nullptr) {
    return absl::InvalidArgumentError(
        "shell: input must be an object {\"argv\": [program, args...], \"env\": {...}, "
        "\"cwd\": \"...\", \"stdin\": \"...\"}");
  }
  for (const auto& [key, value] : *fields) {
    if (key != "argv" && key != "env" && key != "cwd" && key != "stdin") {
      return absl::InvalidArgumentError(absl::StrCat("shell: unknown field input.", View(key),
                                                     " (known: argv, env, cwd, stdin)"));
    }
  }
  ShellInput out;
  RETURN_IF_ERROR(ParseArgv(fields->if_contains("argv"), out));
  if (const boost::json::value* env = fields->if_contains("env")) {
    RETURN_IF_ERROR(ParseEnv(*env, out));
  }
  if (const boost::json::value* cwd = fields->if_contains("cwd")) {
    ASSIGN_OR_RETURN(out.cwd, CString(*cwd, "cwd"));
  }
  if (const boost::json::value* data = fields->if_contains("stdin")) {
    const boost::json::string* s = data->if_string();
    if (s == nullptr) return FieldError("stdin", "must be a string");
    out.stdin_data = std::string(View(*s));
  }
  return out;
}

}  // namespace batchd::core
