#include "core/inputs/input_refs.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

constexpr absl::string_view kRefMember = "$ref";
constexpr absl::string_view kPathMember = "path";

// Where in an input the walk is, as a field path suffix (".body.$ref", "[2]"); rendered only for
// a message.
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

 private:
  struct Segment {
    absl::string_view member;
    size_t index_plus_one = 0;  // 0: a member
  };
  std::vector<Segment> segments_;
};

absl::string_view View(const json::string& s) { return absl::string_view(s.data(), s.size()); }
absl::string_view View(json::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsPointer(absl::string_view p) {
  if (p.empty()) return true;
  if (p.front() != '/') return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~' && (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) return false;
  }
  return true;
}

std::string PointerProblem(absl::string_view p) {
  return absl::StrCat("'", p,
                      "' is not a JSON pointer (RFC 6901: empty, or '/' before each step; '~' only "
                      "as '~0' or '~1')");
}

// One "${id}" or "${id#pointer}" in a string.
struct Template {
  absl::string_view text;  // as written, "${...}"
  absl::string_view id;
  absl::string_view pointer;  // empty: the whole output
};

// Whether a string holds anything ResolveInputRefs changes ("${" or "$$").
bool HasTemplates(absl::string_view s) {
  for (size_t i = s.find('$'); i != absl::string_view::npos; i = s.find('$', i + 1)) {
    if (i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '$')) return true;
  }
  return false;
}

// Walks `s`: `on_text` gets each literal piece ("$$" as "$"), `on_template` each template, in
// order. Returns the first malformed template's problem (and stops there); empty when none.
template <typename OnText, typename OnTemplate>
std::string ScanTemplates(absl::string_view s, OnText on_text, OnTemplate on_template) {
  size_t literal = 0;  // start of the literal piece not yet passed on
  size_t i = s.find('$');
  while (i != absl::string_view::npos && i + 1 < s.size()) {
    if (s[i + 1] == '$') {
      on_text(s.substr(literal, i + 1 - literal));  // up to and including one '$'
      literal = i + 2;
      i = s.find('$', literal);
      continue;
    }
    if (s[i + 1] != '{') {
      i = s.find('$', i + 1);
      continue;
    }
    const size_t close = s.find('}', i + 2);
    if (close == absl::string_view::npos) {
      return absl::StrCat("template '", s.substr(i, std::min<size_t>(s.size() - i, 40)),
                          "' has no closing '}' (write '$$' for a literal '$')");
    }
    const absl::string_view body = s.substr(i + 2, close - i - 2);
    const size_t hash = body.find('#');
    Template t{s.substr(i, close + 1 - i), body.substr(0, hash),
               hash == absl::string_view::npos ? absl::string_view{} : body.substr(hash + 1)};
    if (t.id.empty()) {
      return absl::StrCat("template '", t.text, "' names no task (write '$$' for a literal '$')");
    }
    on_text(s.substr(literal, i - literal));
    if (std::string problem = on_template(t); !problem.empty()) return problem;
    literal = close + 1;
    i = s.find('$', literal);
  }
  on_text(s.substr(literal));
  return {};
}

class RefChecker {
 public:
  RefChecker(absl::FunctionRef<std::string()> field, absl::string_view task_id,
             absl::Span<const std::string> dependencies,
             absl::FunctionRef<bool(absl::string_view)> is_task, FieldViolations& violations)
      : field_(field),
        task_id_(task_id),
        dependencies_(dependencies),
        is_task_(is_task),
        violations_(violations) {}

  bool any() const { return any_; }

  void Walk(const json::value& v) {
    switch (v.kind()) {
      case json::kind::object: {
        const json::object& o = v.get_object();
        if (o.contains({kRefMember.data(), kRefMember.size()})) {
          CheckRefObject(o);
          return;
        }
        for (const auto& member : o) {
          path_.PushMember(View(member.key()));
          Walk(member.value());
          path_.Pop();
        }
        return;
      }
      case json::kind::array: {
        const json::array& a = v.get_array();
        for (size_t i = 0; i < a.size(); ++i) {
          path_.PushIndex(i);
          Walk(a[i]);
          path_.Pop();
        }
        return;
      }
      case json::kind::string:
        if (HasTemplates(View(v.get_string()))) CheckTemplates(View(v.get_string()));
        return;
      default:
        return;
    }
  }

 private:
  void Violation(absl::string_view member, std::string description) {
    violations_.Add([&] {
      return FieldViolation{path_.Render(field_(), member),
                            absl::StrCat("Task '", task_id_, "': ", description)};
    });
  }

  // Empty when `id` is one of the task's dependencies.
  std::string TargetProblem(absl::string_view id) const {
    if (std::find(dependencies_.begin(), dependencies_.end(), id) != dependencies_.end()) return {};
    if (is_task_(id)) {
      return absl::StrCat("refers to task '", id,
                          "', which is not among its dependencies (add it to dependencies)");
    }
    return absl::StrCat("refers to unknown task '", id, "'");
  }

  void CheckRefObject(const json::object& o) {
    any_ = true;
    for (const auto& member : o) {
      if (View(member.key()) != kRefMember && View(member.key()) != kPathMember) {
        Violation(View(member.key()), absl::StrCat("a $ref object has only \"$ref\" and \"path\" "
                                                   "members, not '",
                                                   View(member.key()), "'"));
      }
    }
    const json::value& target = o.at({kRefMember.data(), kRefMember.size()});
    if (!target.is_string() || target.get_string().empty()) {
      Violation(kRefMember, "$ref must name a task (a non-empty string)");
    } else if (std::string problem = TargetProblem(View(target.get_string())); !problem.empty()) {
      Violation(kRefMember, std::move(problem));
    }
    if (const json::value* path = o.if_contains({kPathMember.data(), kPathMember.size()})) {
      if (!path->is_string()) {
        Violation(kPathMember, "$ref path must be a JSON pointer string");
      } else if (!IsPointer(View(path->get_string()))) {
        Violation(kPathMember,
                  absl::StrCat("$ref path ", PointerProblem(View(path->get_string()))));
      }
    }
  }

  void CheckTemplates(absl::string_view s) {
    any_ = true;
    std::string problem = ScanTemplates(
        s, [](absl::string_view) {},
        [&](const Template& t) -> std::string {
          if (std::string target = TargetProblem(t.id); !target.empty()) {
            return absl::StrCat("template '", t.text, "' ", target);
          }
          if (!IsPointer(t.pointer)) {
            return absl::StrCat("template '", t.text, "': ", PointerProblem(t.pointer));
          }
          return {};
        });
    if (!problem.empty()) Violation({}, std::move(problem));
  }

  absl::FunctionRef<std::string()> field_;
  absl::string_view task_id_;
  absl::Span<const std::string> dependencies_;
  absl::FunctionRef<bool(absl::string_view)> is_task_;
  FieldViolations& violations_;
  InputPath path_;
  bool any_ = false;
};

class RefResolver {
 public:
  explicit RefResolver(DependencyOutput output_of) : output_of_(output_of) {}

  absl::StatusOr<json::value> Run(const json::value& input) {
    json::value out = Resolve(input);
    if (!status_.ok()) return status_;
    return out;
  }

 private:
  json::value Resolve(const json::value& v) {
    if (!status_.ok()) return nullptr;
    switch (v.kind()) {
      case json::kind::object: {
        const json::object& o = v.get_object();
        if (o.contains({kRefMember.data(), kRefMember.size()})) return ResolveRefObject(o);
        json::object out(v.storage());
        out.reserve(o.size());
        for (const auto& member : o) {
          path_.PushMember(View(member.key()));
          out.emplace(member.key(), Resolve(member.value()));
          path_.Pop();
        }
        return out;
      }
      case json::kind::array: {
        const json::array& a = v.get_array();
        json::array out(v.storage());
        out.reserve(a.size());
        for (size_t i = 0; i < a.size(); ++i) {
          path_.PushIndex(i);
          out.push_back(Resolve(a[i]));
          path_.Pop();
        }
        return out;
      }
      case json::kind::string:
        if (!HasTemplates(View(v.get_string()))) return v;
        return ResolveTemplates(View(v.get_string()));
      default:
        return v;
    }
  }

  // The value `pointer` names in `id`'s output; null when the dependency produced none.
  // nullptr (and a failure naming `where`) when the pointer names nothing.
  const json::value* Lookup(absl::string_view id, absl::string_view pointer,
                            absl::string_view where, absl::string_view what) {
    static const json::value kNull;
    const json::value* output = output_of_(id);
    if (output == nullptr) return &kNull;
    if (pointer.empty()) return output;
    boost::system::error_code ec;
    const json::value* found = output->find_pointer({pointer.data(), pointer.size()}, ec);
    if (found == nullptr) {
      status_ = absl::FailedPreconditionError(absl::StrCat(path_.Render("input", where), ": ", what,
                                                           "task '", id, "' has no '", pointer,
                                                           "' in its output"));
    }
    return found;
  }

  json::value ResolveRefObject(const json::object& o) {
    const absl::string_view id = View(o.at({kRefMember.data(), kRefMember.size()}).get_string());
    const json::value* path = o.if_contains({kPathMember.data(), kPathMember.size()});
    const absl::string_view pointer =
        path != nullptr && path->is_string() ? View(path->get_string()) : "";
    const json::value* found = Lookup(id, pointer, kRefMember, "");
    return found != nullptr ? *found : json::value(nullptr);
  }

  json::value ResolveTemplates(absl::string_view s) {
    json::string out;
    out.reserve(s.size());
    std::string problem = ScanTemplates(
        s,
        [&](absl::string_view text) {
          out.append({text.data(), text.size()});
        },
        [&](const Template& t) -> std::string {
          const std::string what = absl::StrCat("template '", t.text, "': ");
          const json::value* found = Lookup(t.id, t.pointer, {}, what);
          if (found == nullptr) return "failed";  // status_ says why
          if (found->is_string()) {
            out.append(found->get_string());
          } else {
            out.append(json::serialize(*found));
          }
          return {};
        });
    if (!problem.empty() && status_.ok()) {
      status_ = absl::FailedPreconditionError(absl::StrCat(path_.Render("input"), ": ", problem));
    }
    return out;
  }

  DependencyOutput output_of_;
  InputPath path_;
  absl::Status status_;
};

}  // namespace

bool CheckInputRefs(const json::value& input, absl::FunctionRef<std::string()> field,
                    absl::string_view task_id, absl::Span<const std::string> dependencies,
                    absl::FunctionRef<bool(absl::string_view)> is_task,
                    FieldViolations& violations) {
  RefChecker checker(field, task_id, dependencies, is_task, violations);
  checker.Walk(input);
  return checker.any();
}

absl::StatusOr<json::value> ResolveInputRefs(const json::value& input, DependencyOutput output_of) {
  return RefResolver(output_of).Run(input);
}

}  // namespace batchd::core
