// Validation errors that name the offending request field (e.g. "tasks[3].dependencies[0]").
// Carried as an absl::Status payload so core stays free of protobuf; server/ turns them into
// google.rpc.BadRequest details. Free functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace batchd::core {

struct FieldViolation {
  std::string field;
  std::string description;

  bool operator==(const FieldViolation&) const = default;
};

// INVALID_ARGUMENT whose message is the first violation's description (with a count of the
// others) and whose payload lists every violation. `violations` must not be empty.
absl::Status InvalidArgumentWithViolations(std::vector<FieldViolation> violations);

// Shorthand for a single violation.
absl::Status InvalidField(std::string field, std::string description);

// The violations attached to `status`, empty when there are none.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

}  // namespace batchd::core
