#include "client/format/state_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

std::string ShortName(const std::string& full_name, absl::string_view prefix, int value) {
  if (full_name.empty()) return absl::StrCat("UNKNOWN(", value, ")");
  return std::string(absl::StripPrefix(full_name, prefix));
}

// `Parse` of "<PREFIX><NAME>" for a name typed with or without the prefix, in any case.
template <typename State, typename Parse>
std::optional<State> ParseStateName(absl::string_view name, absl::string_view prefix, Parse parse) {
  std::string full = absl::AsciiStrToUpper(name);
  if (!absl::StartsWith(full, prefix)) full = absl::StrCat(prefix, full);
  State state{};
  if (!parse(full, &state) || static_cast<int>(state) == 0) return std::nullopt;
  return state;
}

}  // namespace

std::optional<v1::TaskState> ParseTaskStateName(absl::string_view name) {
  return ParseStateName<v1::TaskState>(name, "TASK_STATE_", v1::TaskState_Parse);
}

std::optional<v1::BatchState> ParseBatchStateName(absl::string_view name) {
  return ParseStateName<v1::BatchState>(name, "BATCH_STATE_", v1::BatchState_Parse);
}

std::string TaskStateName(v1::TaskState state) {
  return ShortName(v1::TaskState_Name(state), "TASK_STATE_", state);
}

std::string BatchStateName(v1::BatchState state) {
  return ShortName(v1::BatchState_Name(state), "BATCH_STATE_", state);
}

bool IsFinal(v1::BatchState state) {
  return state == v1::BATCH_STATE_SUCCEEDED || state == v1::BATCH_STATE_FAILED ||
         state == v1::BATCH_STATE_CANCELLED;
}

}  // namespace batchd::client
