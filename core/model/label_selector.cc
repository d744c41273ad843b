#include "core/model/label_selector.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace batchd::core {
namespace {

// Characters that separate or build operators, never part of a key or a value.
bool IsReserved(char c) {
  return c == ',' || c == '=' || c == '!' || absl::ascii_isspace(static_cast<unsigned char>(c));
}

bool IsName(absl::string_view s, bool allow_empty) {
  if (s.empty()) return allow_empty;
  for (const char c : s) {
    if (IsReserved(c)) return false;
  }
  return true;
}

absl::Status Malformed(absl::string_view requirement, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("Malformed label selector requirement '", requirement, "': ", why));
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  LabelSelector selector;
  if (absl::StripAsciiWhitespace(text).empty()) return selector;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    absl::StatusOr<Requirement> r = ParseRequirement(absl::StripAsciiWhitespace(part));
    if (!r.ok()) return r.status();
    selector.requirements_.push_back(*std::move(r));
  }
  return selector;
}

absl::StatusOr<LabelSelector::Requirement> LabelSelector::ParseRequirement(absl::string_view text) {
  if (text.empty()) return Malformed(text, "empty requirement (two commas, or one at an end)");
  Requirement r;
  if (text.front() == '!') {
    r.key = std::string(absl::StripLeadingAsciiWhitespace(text.substr(1)));
    if (!IsName(r.key, false)) return Malformed(text, "'!' takes a key and nothing else");
    r.op = Op::kNotExists;
    return r;
  }
  const size_t op = text.find_first_of("=!");
  if (op == absl::string_view::npos) {
    if (!IsName(text, false)) {
      return Malformed(text, "expected key, !key, key=value or key!=value (no set-based forms)");
    }
    r.key = std::string(text);
    return r;
  }
  const absl::string_view key = absl::StripTrailingAsciiWhitespace(text.substr(0, op));
  absl::string_view rest = text.substr(op);
  if (absl::ConsumePrefix(&rest, "==") || absl::ConsumePrefix(&rest, "=")) {
    r.op = Op::kEquals;
  } else if (absl::ConsumePrefix(&rest, "!=")) {
    r.op = Op::kNotEquals;
  } else {
    return Malformed(text, "'!' must be followed by '=' or start the requirement");
  }
  const absl::string_view value = absl::StripLeadingAsciiWhitespace(rest);
  if (!IsName(key, false)) return Malformed(text, "missing or malformed key");
  if (!IsName(value, true)) return Malformed(text, "malformed value");
  r.key = std::string(key);
  r.value = std::string(value);
  return r;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const Requirement& r : requirements_) {
    const auto it = labels.find(r.key);
    const bool present = it != labels.end();
    switch (r.op) {
      case Op::kEquals:
        if (!present || it->second != r.value) return false;
        break;
      case Op::kNotEquals:
        if (present && it->second == r.value) return false;
        break;
      case Op::kExists:
        if (!present) return false;
        break;
      case Op::kNotExists:
        if (present) return false;
        break;
    }
  }
  return true;
}

}  // namespace batchd::core
