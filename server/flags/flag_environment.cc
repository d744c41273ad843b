#include "server/flags/flag_environment.h"

#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/flags/flag_names.h"

namespace batchd::server {
namespace {

// Read by batchctl, which may share the daemon's environment (a container, a shell).
constexpr std::array<absl::string_view, 2> kClientVariables = {"BATCHD_ADDR", "BATCHD_TOKEN_FILE"};

bool IsClientVariable(absl::string_view name) {
  for (absl::string_view client : kClientVariables) {
    if (name == client) return true;
  }
  return false;
}

}  // namespace

std::string EnvironmentVariableFor(absl::string_view flag_name) {
  std::string name = absl::StrCat(kEnvironmentPrefix, flag_name);
  for (char& c : name) c = c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
  return name;
}

absl::StatusOr<std::vector<std::string>> ApplyFlagsFromEnvironment(
    const char* const* environment,
    absl::FunctionRef<bool(const absl::CommandLineFlag&)> is_daemon_flag) {
  absl::flat_hash_map<std::string, absl::CommandLineFlag*> by_variable;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && is_daemon_flag(*flag)) {
      by_variable.emplace(EnvironmentVariableFor(name), flag);
    }
  }
  std::vector<std::string> unknown;
  for (const char* const* entry = environment; *entry != nullptr; ++entry) {
    const absl::string_view assignment = *entry;
    if (!absl::StartsWith(assignment, kEnvironmentPrefix)) continue;
    const size_t eq = assignment.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view variable = assignment.substr(0, eq);
    const absl::string_view value = assignment.substr(eq + 1);
    const auto it = by_variable.find(variable);
    if (it == by_variable.end()) {
      if (!IsClientVariable(variable)) unknown.emplace_back(variable);
      continue;
    }
    if (value.empty()) continue;
    std::string error;
    if (!it->second->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid ", variable, "='", value, "' for --",
                                                     DashedFlagName(it->second->Name()), ": ",
                                                     error));
    }
  }
  return unknown;
}

}  // namespace batchd::server
