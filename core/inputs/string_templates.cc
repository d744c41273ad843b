#include "core/inputs/string_templates.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace batchd::core {

bool HasTemplates(absl::string_view s) {
  for (size_t i = s.find('$'); i != absl::string_view::npos; i = s.find('$', i + 1)) {
    if (i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '$')) return true;
  }
  return false;
}

std::string ScanTemplates(absl::string_view s, absl::FunctionRef<void(absl::string_view)> on_text,
                          absl::FunctionRef<std::string(const StringTemplate&)> on_template) {
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
    StringTemplate t;
    t.text = s.substr(i, close + 1 - i);
    absl::string_view body = s.substr(i + 2, close - i - 2);
    if (absl::ConsumePrefix(&body, kSecretTemplatePrefix)) {
      t.secret = true;
      t.name = body;
      if (t.name.empty()) {
        return absl::StrCat("template '", t.text,
                            "' names no secret (write '$$' for a literal '$')");
      }
    } else {
      const size_t hash = body.find('#');
      t.name = body.substr(0, hash);
      if (hash != absl::string_view::npos) t.pointer = body.substr(hash + 1);
      if (t.name.empty()) {
        return absl::StrCat("template '", t.text, "' names no task (write '$$' for a literal '$')");
      }
    }
    on_text(s.substr(literal, i - literal));
    if (std::string problem = on_template(t); !problem.empty()) return problem;
    literal = close + 1;
    i = s.find('$', literal);
  }
  on_text(s.substr(literal));
  return {};
}

bool HasSecretTemplates(absl::string_view s) {
  constexpr absl::string_view kSecretTemplateStart = "${secret:";  // "${" + the prefix
  static_assert(kSecretTemplateStart.substr(2) == kSecretTemplatePrefix);
  if (!absl::StrContains(s, kSecretTemplateStart)) return false;  // the common case, no scan
  bool found = false;
  ScanTemplates(
      s, [](absl::string_view) {},
      [&](const StringTemplate& t) -> std::string {
        if (!t.secret) return {};
        found = true;
        return "found";  // stop
      });
  return found;
}

std::string EscapeTemplateText(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"$", "$$"}});
}

}  // namespace batchd::core
