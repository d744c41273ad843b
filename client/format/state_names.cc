#include "client/format/state_names.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

std::string ShortName(const std::string& full_name, absl::string_view prefix, int value) {
  if (full_name.empty()) return absl::StrCat("UNKNOWN(", value, ")");
  return std::string(absl::StripPrefix(full_name, prefix));
}

}  // namespace

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
