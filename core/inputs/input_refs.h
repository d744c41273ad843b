// Dependency outputs wired into a task's input. Anywhere in the input, an object
// {"$ref": "<task id>", "path": "<JSON pointer>"} stands for that value of the dependency's output
// (RFC 6901; no path: the whole output), and inside a string "${<task id>}" or
// "${<task id>#<pointer>}" stands for the value as text (a string as it is, other JSON compact);
// "$$" is a literal "$" (the grammar of string_templates.h). A reference names one of the task's
// own dependencies. A dependency that produced no output (it failed and the batch runs dependents
// anyway) resolves to null. "${secret:name}" templates are core/secrets' references: left for it
// (a string holding one stays a template string, see ResolveInputRefs).
// CheckInputRefs runs at submit, ResolveInputRefs when the task is about to run.
// Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/model/field_violation.h"

namespace batchd::core {

// Adds a violation for each bad reference in `input`, with its path under what `field` returns
// (e.g. "tasks[3].input" + ".body.$ref"; called only for a violation): a $ref object with a
// non-string target, a member other than "path" or a non-string path; a reference to a task that is
// not among `dependencies`
// (`is_task` tells an unknown task from one that is not a dependency); a pointer that is not
// RFC 6901 ("" or "/..." with "~" only as "~0" or "~1"); a template without its closing "}"
// or with an empty name. Returns whether `input` holds any reference, well formed or not.
bool CheckInputRefs(const boost::json::value& input, absl::FunctionRef<std::string()> field,
                    absl::string_view task_id, absl::Span<const std::string> dependencies,
                    absl::FunctionRef<bool(absl::string_view)> is_task,
                    FieldViolations& violations);

// The output of the dependency named `task_id`: nullptr when it produced none.
using DependencyOutput = absl::FunctionRef<const boost::json::value*(absl::string_view task_id)>;

// `input` with every reference replaced by the value it names. A string that also holds a secret
// template keeps it verbatim, with the rest of the string (dependency text included) escaped
// again ("$" as "$$"): core/secrets' substitution unescapes it once. FAILED_PRECONDITION naming the
// reference by its path in the input when a pointer names nothing in its dependency's output,
// e.g. "input.body.$ref: task 'a' has no '/id' in its output". `input` must have passed
// CheckInputRefs against the same dependencies.
absl::StatusOr<boost::json::value> ResolveInputRefs(const boost::json::value& input,
                                                    DependencyOutput output_of);

}  // namespace batchd::core
