#include "core/secrets/secret_refs.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/json_string_view.h"
#include "core/inputs/input_path.h"
#include "core/inputs/string_templates.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

constexpr absl::string_view kRefMember = "$ref";  // core/inputs' objects: not walked here

json::string_view JsonView(absl::string_view s) { return {s.data(), s.size()}; }

class SecretChecker {
 public:
  SecretChecker(absl::FunctionRef<std::string()> field, absl::string_view task_id,
                absl::string_view executor, const SecretStore& secrets, FieldViolations& violations)
      : field_(field),
        task_id_(task_id),
        executor_(executor),
        secrets_(secrets),
        violations_(violations) {}

  SecretRefs Take() && {
    std::sort(refs_.names.begin(), refs_.names.end());
    refs_.names.erase(std::unique(refs_.names.begin(), refs_.names.end()), refs_.names.end());
    return std::move(refs_);
  }

  void Walk(const json::value& v) {
    switch (v.kind()) {
      case json::kind::object: {
        const json::object& o = v.get_object();
        if (o.contains(JsonView(kRefMember))) return;
        if (o.contains(JsonView(kSecretMember))) return CheckSecretObject(o);
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
        if (HasSecretTemplates(View(v.get_string()))) CheckTemplates(View(v.get_string()));
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

  // Empty when the task may read the secret `name` (and records it).
  std::string NameProblem(absl::string_view name) {
    const Secret* secret = secrets_.Find(name);
    if (secret == nullptr) {
      if (secrets_.empty()) {
        return absl::StrCat("unknown secret '", name,
                            "' (the daemon defines no secrets: start it with --secrets-file)");
      }
      return absl::StrCat("unknown secret '", name, "' (the daemon's --secrets-file defines: ",
                          absl::StrJoin(secrets_.Names(), ", "), ")");
    }
    refs_.names.emplace_back(name);
    if (secret->ReadableBy(executor_)) return {};
    return absl::StrCat("executor '", executor_, "' may not read secret '", name,
                        "' (readable by: ", absl::StrJoin(secret->readers, ", "),
                        "; list the executor in the secret's \"executors\" in --secrets-file)");
  }

  void CheckSecretObject(const json::object& o) {
    refs_.sites.push_back(path_.Pointer());
    for (const auto& member : o) {
      if (View(member.key()) != kSecretMember) {
        Violation(View(member.key()),
                  absl::StrCat("a $secret object has only the \"$secret\" member, not '",
                               View(member.key()), "'"));
      }
    }
    const json::value& name = o.at(JsonView(kSecretMember));
    if (!name.is_string() || name.get_string().empty()) {
      Violation(kSecretMember, "$secret must name a secret (a non-empty string)");
    } else if (std::string problem = NameProblem(View(name.get_string())); !problem.empty()) {
      Violation(kSecretMember, std::move(problem));
    }
  }

  void CheckTemplates(absl::string_view s) {
    refs_.sites.push_back(path_.Pointer());
    ScanTemplates(
        s, [](absl::string_view) {},
        [&](const StringTemplate& t) -> std::string {
          if (!t.secret) return {};
          if (std::string problem = NameProblem(t.name); !problem.empty()) {
            Violation({}, absl::StrCat("template '", t.text, "': ", problem));
          }
          return {};
        });
  }

  absl::FunctionRef<std::string()> field_;
  absl::string_view task_id_;
  absl::string_view executor_;
  const SecretStore& secrets_;
  FieldViolations& violations_;
  InputPath path_;
  SecretRefs refs_;
};

absl::Status Undefined(absl::string_view name) {
  return absl::FailedPreconditionError(
      absl::StrCat("secret '", name, "' is not defined (any more): check --secrets-file"));
}

// The template string `s` with its secret templates replaced by their values, "$$" unescaped.
absl::StatusOr<json::string> SubstituteTemplates(absl::string_view s, const SecretStore& secrets) {
  json::string out;
  absl::Status status;
  ScanTemplates(
      s, [&](absl::string_view text) { out.append(JsonView(text)); },
      [&](const StringTemplate& t) -> std::string {
        if (!t.secret) {  // resolved by core/inputs before; kept as written if it was not
          out.append(JsonView(t.text));
          return {};
        }
        const Secret* secret = secrets.Find(t.name);
        if (secret == nullptr) {
          status = Undefined(t.name);
          return "undefined";
        }
        out.append(JsonView(secret->value));
        return {};
      });
  if (!status.ok()) return status;
  return out;
}

}  // namespace

SecretRefs CheckSecretRefs(const json::value& input, absl::FunctionRef<std::string()> field,
                           absl::string_view task_id, absl::string_view executor,
                           const SecretStore& secrets, FieldViolations& violations) {
  SecretChecker checker(field, task_id, executor, secrets, violations);
  checker.Walk(input);
  return std::move(checker).Take();
}

absl::StatusOr<json::value> SubstituteSecrets(const json::value& input, const SecretRefs& refs,
                                              const SecretStore& secrets) {
  json::value out = input;
  for (const std::string& site : refs.sites) {
    boost::system::error_code ec;
    json::value* at = out.find_pointer(JsonView(site), ec);
    if (at != nullptr && at->is_object()) {
      const json::value* name = at->get_object().if_contains(JsonView(kSecretMember));
      if (name != nullptr && name->is_string()) {
        const Secret* secret = secrets.Find(View(name->get_string()));
        if (secret == nullptr) return Undefined(View(name->get_string()));
        *at = json::string(JsonView(secret->value), out.storage());
        continue;
      }
    } else if (at != nullptr && at->is_string()) {
      absl::StatusOr<json::string> text = SubstituteTemplates(View(at->get_string()), secrets);
      if (!text.ok()) return text.status();
      *at = *std::move(text);
      continue;
    }
    return absl::FailedPreconditionError(
        absl::StrCat("input '", site, "' no longer holds the secret reference it held at submit"));
  }
  return out;
}

}  // namespace batchd::core
