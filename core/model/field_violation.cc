#include "core/model/field_violation.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"

namespace batchd::core {
namespace {

constexpr absl::string_view kPayloadUrl = "type.batchd.dev/batchd.FieldViolations";
// The number of violations when more were found than listed (decimal text).
constexpr absl::string_view kCountPayloadUrl = "type.batchd.dev/batchd.FieldViolationCount";
// ASCII unit and record separators: cannot appear unescaped in field paths we produce, and
// descriptions containing them are sanitised below.
constexpr char kUnitSep = '\x1f';
constexpr char kRecordSep = '\x1e';

std::string Sanitise(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == kUnitSep || c == kRecordSep) c = ' ';
  }
  return out;
}

// --- Input order of field paths ---

// batchd.v1 field numbers of the messages a request's paths walk through (SubmitBatchRequest
// and ProcessBatchRequest share theirs; SetLimitRequest's paths all start at "limit").
// tests/unit/server/rpc/batch_request_test.cc checks them against the .proto descriptors.
struct NamedField {
  absl::string_view name;
  int number;
};
constexpr NamedField kRequestFields[] = {
    {"request_id", 1}, {"tasks", 2}, {"options", 3}, {"labels", 4}};
constexpr NamedField kTaskFields[] = {{"id", 1},           {"executor", 2},   {"input", 3},
                                      {"priority", 4},     {"timeout_ms", 5}, {"dependencies", 6},
                                      {"retry_policy", 7}, {"limits", 8}};
constexpr NamedField kOptionsFields[] = {
    {"max_concurrent", 1},      {"timeout_ms", 2},     {"retry_policy", 3},
    {"aggregation", 4},         {"load_balancer", 5},  {"on_dependency_failure", 6},
    {"wait_for_workers", 7},    {"default_limits", 8}, {"allow_unknown_limits", 9},
    {"queue_timeout_ms", 10},   {"default_cache", 11}, {"open", 12},
    {"close_after_idle_ms", 13}};
constexpr NamedField kLimitUseFields[] = {{"key", 1}, {"units", 2}};
// LimitService's SetLimitRequest: "limit.rates[0].period".
constexpr NamedField kLimitFields[] = {
    {"key", 1}, {"max_in_flight", 2}, {"rates", 3}, {"units_header", 4}};
constexpr NamedField kLimitRateFields[] = {
    {"units", 1}, {"period", 2}, {"burst", 3}, {"measure", 4}};
constexpr NamedField kRetryPolicyFields[] = {
    {"kind", 1},       {"max_retries", 2},  {"initial_delay_ms", 3}, {"increment_ms", 4},
    {"multiplier", 5}, {"max_delay_ms", 6}, {"jitter", 7},           {"retry_on_timeout", 8}};
constexpr int kUnknownField = 1 << 30;

// The number of field `name` in the message reached through a field named `parent` ("" for
// the request itself).
int FieldNumber(absl::string_view parent, absl::string_view name) {
  absl::Span<const NamedField> fields;
  if (parent.empty()) {
    fields = kRequestFields;
  } else if (parent == "tasks") {
    fields = kTaskFields;
  } else if (parent == "options") {
    fields = kOptionsFields;
  } else if (parent == "retry_policy") {
    fields = kRetryPolicyFields;
  } else if (parent == "limits" || parent == "default_limits") {
    fields = kLimitUseFields;
  } else if (parent == "limit") {
    fields = kLimitFields;
  } else if (parent == "rates") {
    fields = kLimitRateFields;
  }
  for (const NamedField& field : fields) {
    if (field.name == name) return field.number;
  }
  return kUnknownField;
}

struct PathSegment {
  absl::string_view name;
  std::optional<absl::string_view> index;  // list index or map key
};

bool IsNumber(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit);
}

// Removes and returns the first segment of `path`: `name`, `name[index]` or `name[key]`. A
// map key may hold any character, so one that is not a number runs to the path's last ']'.
PathSegment TakeSegment(absl::string_view& path) {
  PathSegment segment;
  const size_t end = path.find_first_of(".[");
  segment.name = path.substr(0, end);
  if (end == absl::string_view::npos) {
    path = {};
    return segment;
  }
  if (path[end] == '[') {
    size_t close = path.find(']', end);
    if (close == absl::string_view::npos || !IsNumber(path.substr(end + 1, close - end - 1))) {
      close = path.rfind(']');
      if (close == absl::string_view::npos || close < end) close = path.size();
    }
    segment.index = path.substr(end + 1, close - end - 1);
    path.remove_prefix(std::min(close + 1, path.size()));
  } else {
    path.remove_prefix(end);
  }
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  return segment;
}

// -1, 0 or 1: numbers first, by value; then keys, as strings.
int CompareIndex(absl::string_view a, absl::string_view b) {
  const bool a_number = IsNumber(a);
  const bool b_number = IsNumber(b);
  if (a_number != b_number) return a_number ? -1 : 1;
  if (a_number && a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

// INVALID_ARGUMENT: the first description and the count of the others; the payload lists
// `violations` and, when it is more, records `total`.
absl::Status StatusOf(std::vector<FieldViolation> violations, size_t total) {
  std::string message = violations.front().description;
  if (total > 1) absl::StrAppend(&message, " (and ", total - 1, " more)");
  std::string payload;
  for (const FieldViolation& v : violations) {
    absl::StrAppend(&payload, Sanitise(v.field), std::string(1, kUnitSep), Sanitise(v.description),
                    std::string(1, kRecordSep));
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kPayloadUrl, absl::Cord(std::move(payload)));
  if (total > violations.size()) {
    status.SetPayload(kCountPayloadUrl, absl::Cord(absl::StrCat(total)));
  }
  return status;
}

}  // namespace

bool FieldPathBefore(absl::string_view a, absl::string_view b) {
  absl::string_view parent;
  while (!a.empty() && !b.empty()) {
    const PathSegment x = TakeSegment(a);
    const PathSegment y = TakeSegment(b);
    const int x_number = FieldNumber(parent, x.name);
    const int y_number = FieldNumber(parent, y.name);
    if (x_number != y_number) return x_number < y_number;
    if (x.name != y.name) return false;  // two unknown names: no order between them
    if (x.index.has_value() != y.index.has_value()) return !x.index.has_value();
    if (x.index.has_value()) {
      if (const int c = CompareIndex(*x.index, *y.index); c != 0) return c < 0;
    }
    parent = x.name;
  }
  return a.empty() && !b.empty();  // a parent before its fields
}

FieldViolations FieldViolations::Of(const absl::Status& status) {
  FieldViolations out;
  out.listed_ = FieldViolationsOf(status);
  out.total_ = std::max(out.listed_.size(), FieldViolationCountOf(status));
  return out;
}

void FieldViolations::Add(std::string field, std::string description) {
  ++total_;
  if (!full()) listed_.push_back({std::move(field), std::move(description)});
}

void FieldViolations::Add(absl::FunctionRef<FieldViolation()> make) {
  ++total_;
  if (!full()) listed_.push_back(make());
}

void FieldViolations::Merge(FieldViolations other) {
  total_ += other.total_;
  if (other.listed_.empty()) return;
  listed_.insert(listed_.end(), std::make_move_iterator(other.listed_.begin()),
                 std::make_move_iterator(other.listed_.end()));
  std::stable_sort(listed_.begin(), listed_.end(),
                   [](const FieldViolation& x, const FieldViolation& y) {
                     return FieldPathBefore(x.field, y.field);
                   });
  if (listed_.size() > kMaxFieldViolations) listed_.resize(kMaxFieldViolations);
}

absl::Status FieldViolations::ToStatus() && {
  if (empty()) return absl::OkStatus();
  return StatusOf(std::move(listed_), total_);
}

absl::Status InvalidArgumentWithViolations(std::vector<FieldViolation> violations) {
  const size_t total = violations.size();
  return StatusOf(std::move(violations), total);
}

absl::Status InvalidField(std::string field, std::string description) {
  std::vector<FieldViolation> v;
  v.push_back({std::move(field), std::move(description)});
  return InvalidArgumentWithViolations(std::move(v));
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return out;
  std::string text(*payload);
  for (absl::string_view record : absl::StrSplit(text, kRecordSep, absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(record, absl::MaxSplits(kUnitSep, 1));
    out.push_back({std::string(parts.first), std::string(parts.second)});
  }
  return out;
}

size_t FieldViolationCountOf(const absl::Status& status) {
  size_t count = 0;
  if (absl::optional<absl::Cord> text = status.GetPayload(kCountPayloadUrl); text.has_value()) {
    if (absl::SimpleAtoi(std::string(*text), &count)) return count;
  }
  return FieldViolationsOf(status).size();
}

}  // namespace batchd::core
