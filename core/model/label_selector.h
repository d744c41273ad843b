// A Kubernetes-style equality label selector ("env=prod,tier!=db,team,!legacy"): parsed once
// from its text, then matched against batches' labels. A value type; thread-compatible.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

class LabelSelector {
 public:
  // Comma-separated requirements that must all hold: "key=value" (also "key==value"),
  // "key!=value" (holds when the key is absent too), "key" (present), "!key" (absent). Spaces
  // around requirements and operators are ignored; keys and values may hold any other character
  // but ",", "=", "!" and spaces (values may be empty). "" selects everything. INVALID_ARGUMENT
  // naming the requirement when malformed; set-based forms ("in", "notin") are not supported.
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);

  LabelSelector() = default;  // selects everything

  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op = Op::kExists;
    std::string value;
  };
  static absl::StatusOr<Requirement> ParseRequirement(absl::string_view text);

  std::vector<Requirement> requirements_;
};

}  // namespace batchd::core
