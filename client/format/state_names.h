// Short display names for batchd.v1 task and batch states ("SUCCEEDED", not
// "TASK_STATE_SUCCEEDED"). Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "batchd/v1/batch.pb.h"

namespace batchd::client {

// The enum name without its prefix; "UNKNOWN(<n>)" for values this build does not know.
std::string TaskStateName(batchd::v1::TaskState state);
std::string BatchStateName(batchd::v1::BatchState state);

// A state as a user types it: "running", "RUNNING" or "BATCH_STATE_RUNNING" (any case);
// nullopt for anything else (UNSPECIFIED included).
std::optional<batchd::v1::TaskState> ParseTaskStateName(absl::string_view name);
std::optional<batchd::v1::BatchState> ParseBatchStateName(absl::string_view name);

// SUCCEEDED, FAILED or CANCELLED: the batch will not change any more.
bool IsFinal(batchd::v1::BatchState state);

}  // namespace batchd::client
