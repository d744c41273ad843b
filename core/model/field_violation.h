// Validation errors that name the offending request field (e.g. "tasks[3].dependencies[0]").
// Carried as an absl::Status payload so core stays free of protobuf; server/ turns them into
// google.rpc.BadRequest details. FieldViolations collects one request's violations in input
// order. Free functions are thread-safe; a FieldViolations is a value owned by one thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

struct FieldViolation {
  std::string field;
  std::string description;

  bool operator==(const FieldViolation&) const = default;
};

// Enough for a client to fix a request in one round without an unbounded error payload.
inline constexpr size_t kMaxFieldViolations = 100;

// True when `a` comes before `b` in input order: the order of the request's fields as
// batchd.v1 numbers them (tasks, then options, then labels; inside a task id, executor, input,
// priority, timeout_ms, dependencies, retry_policy, limits), entries of a list by index, map
// entries by key; SetLimitRequest's "limit..." paths likewise. A path with an unknown name sorts
// after known ones of the same message.
bool FieldPathBefore(absl::string_view a, absl::string_view b);

// The violations of one request: the first kMaxFieldViolations in input order are listed,
// every one is counted. Each producer adds in input order; Merge combines producers that walk
// the request separately (e.g. the graph's checks and the executors').
class FieldViolations {
 public:
  FieldViolations() = default;
  // The violations (and count) attached to `status`; none when it has none.
  static FieldViolations Of(const absl::Status& status);

  void Add(std::string field, std::string description);
  // As Add, building the violation only while the list has room: past the cap it is counted.
  void Add(absl::FunctionRef<FieldViolation()> make);
  // Adds the violations of `other`, keeping the first kMaxFieldViolations in input order.
  void Merge(FieldViolations other);
  void Merge(const absl::Status& status) { Merge(Of(status)); }

  bool empty() const { return total_ == 0; }
  bool full() const { return listed_.size() >= kMaxFieldViolations; }
  size_t total() const { return total_; }
  const std::vector<FieldViolation>& listed() const { return listed_; }

  // OK when empty; otherwise INVALID_ARGUMENT whose message is the first violation's
  // description with the count of all the others, e.g. "Duplicate task id 'a' (and 104 more)".
  absl::Status ToStatus() &&;

 private:
  std::vector<FieldViolation> listed_;
  size_t total_ = 0;
};

// INVALID_ARGUMENT whose message is the first violation's description (with a count of the
// others) and whose payload lists every violation. `violations` must not be empty.
absl::Status InvalidArgumentWithViolations(std::vector<FieldViolation> violations);

// Shorthand for a single violation.
absl::Status InvalidField(std::string field, std::string description);

// The violations attached to `status`, empty when there are none.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);
// How many violations `status` reports, counting those past the cap that are not listed.
size_t FieldViolationCountOf(const absl::Status& status);

}  // namespace batchd::core
