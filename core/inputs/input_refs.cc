#include "core/inputs/input_refs.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/json_string_view.h"
#include "core/inputs/input_path.h"
#include "core/inputs/string_templates.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

constexpr absl::string_view kRefMember = "$ref";
constexpr absl::string_view kPathMember = "path";

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

  // Secret templates are core/secrets' to check; a string holding only those (and no "$$") is
  // not a reference to resolve.
  void CheckTemplates(absl::string_view s) {
    bool refers = absl::StrContains(s, "$$");
    std::string problem = ScanTemplates(
        s, [](absl::string_view) {},
        [&](const StringTemplate& t) -> std::string {
          if (t.secret) return {};
          refers = true;
          if (std::string target = TargetProblem(t.name); !target.empty()) {
            return absl::StrCat("template '", t.text, "' ", target);
          }
          if (!IsPointer(t.pointer)) {
            return absl::StrCat("template '", t.text, "': ", PointerProblem(t.pointer));
          }
          return {};
        });
    if (!problem.empty()) Violation({}, std::move(problem));
    any_ = any_ || refers || !problem.empty();
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

  // A string that also holds secret templates stays a template string for core/secrets to
  // finish when the attempt is built: its secret templates verbatim and everything else (its
  // literal text, and the text substituted from dependency outputs) escaped again, so a "$$" is
  // unescaped once and a dependency's output can never become a secret template.
  json::value ResolveTemplates(absl::string_view s) {
    const bool keep_secrets = HasSecretTemplates(s);
    json::string out;
    out.reserve(s.size());
    const auto append_text = [&](absl::string_view text) {
      if (keep_secrets) {
        const std::string escaped = EscapeTemplateText(text);
        out.append({escaped.data(), escaped.size()});
      } else {
        out.append({text.data(), text.size()});
      }
    };
    std::string problem =
        ScanTemplates(s, append_text, [&](const StringTemplate& t) -> std::string {
          if (t.secret) {
            out.append({t.text.data(), t.text.size()});
            return {};
          }
          const std::string what = absl::StrCat("template '", t.text, "': ");
          const json::value* found = Lookup(t.name, t.pointer, {}, what);
          if (found == nullptr) return "failed";  // status_ says why
          if (found->is_string()) {
            append_text(View(found->get_string()));
          } else {
            append_text(json::serialize(*found));
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
