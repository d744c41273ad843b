// Where in a task input a walk is: rendered as a field path suffix (".body.$ref", "[2]") for a
// message, or as the JSON pointer (RFC 6901) of the value there. Refers to the member names it is
// given (they must outlive it). Not thread-safe: one per walk.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

class InputPath {
 public:
  void PushMember(absl::string_view name) { segments_.push_back({name, 0}); }
  void PushIndex(size_t index) { segments_.push_back({{}, index + 1}); }
  void Pop() { segments_.pop_back(); }

  std::string Render(absl::string_view prefix, absl::string_view member = {}) const {
    std::string out(prefix);
    for (const Segment& s : segments_) {
      if (s.index_plus_one > 0) {
        absl::StrAppend(&out, "[", s.index_plus_one - 1, "]");
      } else {
        absl::StrAppend(&out, ".", s.member);
      }
    }
    if (!member.empty()) absl::StrAppend(&out, ".", member);
    return out;
  }

  std::string Pointer() const {
    std::string out;
    for (const Segment& s : segments_) {
      if (s.index_plus_one > 0) {
        absl::StrAppend(&out, "/", s.index_plus_one - 1);
      } else {
        absl::StrAppend(&out, "/", absl::StrReplaceAll(s.member, {{"~", "~0"}, {"/", "~1"}}));
      }
    }
    return out;
  }

 private:
  struct Segment {
    absl::string_view member{};
    size_t index_plus_one = 0;  // 0: a member
  };
  std::vector<Segment> segments_;
};

}  // namespace batchd::core
