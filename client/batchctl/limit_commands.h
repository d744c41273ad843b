// batchctl's `limits` commands: set, list and delete shared limits (LimitService), and the
// `--rate` text they take. Each command returns the process exit code. Not thread-safe (see
// CommandContext); ParseLimitRate is a pure function.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "batchd/v1/limit_service.pb.h"
#include "client/batchctl/command_context.h"

namespace batchd::client {

inline constexpr absl::string_view kLimitsSetUsage =
    "limits set KEY [--max-in-flight N] [--rate UNITS/PERIOD[:burst=B][:requests]]... "
    "[--units-header H]";

// "UNITS/PERIOD[:burst=B][:requests]": "20/1s", "90000/1m:burst=10000", "500/m:requests"
// (a period without a number is one of it). INVALID_ARGUMENT naming the text and the part.
absl::StatusOr<batchd::v1::LimitRate> ParseLimitRate(absl::string_view text);

// SetLimit of args[0] with --max-in-flight, --rate and --units-header; prints the key's
// status as a one-row table.
int LimitsSetCommand(const CommandContext& context);
// ListLimits as a table.
int LimitsListCommand(const CommandContext& context);
// DeleteLimit of args[0].
int LimitsDeleteCommand(const CommandContext& context);

}  // namespace batchd::client
