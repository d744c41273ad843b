#include "core/field_violation.h"

#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace batchd::core {
namespace {

constexpr absl::string_view kPayloadUrl = "type.batchd.dev/batchd.FieldViolations";
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

}  // namespace

absl::Status InvalidArgumentWithViolations(std::vector<FieldViolation> violations) {
  std::string message = violations.front().description;
  if (violations.size() > 1) {
    absl::StrAppend(&message, " (and ", violations.size() - 1, " more)");
  }
  std::string payload;
  for (const FieldViolation& v : violations) {
    absl::StrAppend(&payload, Sanitise(v.field), std::string(1, kUnitSep),
                    Sanitise(v.description), std::string(1, kRecordSep));
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kPayloadUrl, absl::Cord(std::move(payload)));
  return status;
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

}  // namespace batchd::core
