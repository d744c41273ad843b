#include "core/secrets/secret_redactor.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/json_string_view.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

}  // namespace

SecretRedactor::SecretRedactor(const SecretRefs& refs, const SecretStore& secrets) {
  for (const std::string& name : refs.names) {
    if (const Secret* secret = secrets.Find(name)) {
      replacements_.emplace_back(&secret->value, absl::StrCat("[secret:", name, "]"));
    }
  }
  std::stable_sort(replacements_.begin(), replacements_.end(),
                   [](const auto& a, const auto& b) { return a.first->size() > b.first->size(); });
}

bool SecretRedactor::Redact(std::string& text) const {
  bool any = false;
  for (const auto& [value, placeholder] : replacements_) {
    if (!absl::StrContains(text, *value)) continue;
    std::string out;
    out.reserve(text.size());
    size_t from = 0;
    for (size_t at = text.find(*value); at != std::string::npos; at = text.find(*value, from)) {
      out.append(text, from, at - from).append(placeholder);
      from = at + value->size();
    }
    out.append(text, from, std::string::npos);
    text = std::move(out);
    any = true;
  }
  return any;
}

bool SecretRedactor::Redact(json::value& value) const {
  if (replacements_.empty()) return false;
  switch (value.kind()) {
    case json::kind::string: {
      std::string text(View(value.get_string()));
      if (!Redact(text)) return false;
      value.get_string() = json::string_view(text.data(), text.size());
      return true;
    }
    case json::kind::array: {
      bool any = false;
      for (json::value& v : value.get_array()) any = Redact(v) || any;
      return any;
    }
    case json::kind::object: {
      json::object& o = value.get_object();
      bool any = false;
      bool keys = false;
      for (auto& member : o) {
        any = Redact(member.value()) || any;
        std::string key(View(member.key()));
        keys = keys || Redact(key);
      }
      if (!keys) return any;
      json::object renamed(o.storage());
      renamed.reserve(o.size());
      for (auto& member : o) {
        std::string key(View(member.key()));
        Redact(key);
        renamed[json::string_view(key.data(), key.size())] = std::move(member.value());
      }
      o = std::move(renamed);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace batchd::core
