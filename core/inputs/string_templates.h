// The template grammar of strings in task inputs, shared by dependency references (input_refs.h)
// and secret references (core/secrets): "${name}" is a template and "$$" a literal "$"; a
// template whose name starts with "secret:" names a secret ("${secret:openai}"), any other a task
// ("${task}" or "${task#pointer}"). One scanner for both, so "$$" means the same to each.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

inline constexpr absl::string_view kSecretTemplatePrefix = "secret:";

// One "${...}" in a string.
struct StringTemplate {
  absl::string_view text{};     // as written, "${...}"
  absl::string_view name{};     // the task's id, or the secret's name (after "secret:")
  absl::string_view pointer{};  // a task template's JSON pointer; empty: the whole output
  bool secret = false;
};

// Whether `s` holds anything a template pass changes ("${" or "$$").
bool HasTemplates(absl::string_view s);

// Walks `s`: `on_text` gets each literal piece ("$$" as "$"), `on_template` each template, in
// order. Returns the first malformed template's problem (and stops there), or the first problem
// `on_template` returns; empty when none. Malformed: no closing "}", or an empty name.
std::string ScanTemplates(absl::string_view s, absl::FunctionRef<void(absl::string_view)> on_text,
                          absl::FunctionRef<std::string(const StringTemplate&)> on_template);

// Whether `s` holds a (well-formed) secret template before any malformed one.
bool HasSecretTemplates(absl::string_view s);

// `text` as a template string that means it literally: every "$" doubled.
std::string EscapeTemplateText(absl::string_view text);

}  // namespace batchd::core
