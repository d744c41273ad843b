// The configured limits as submit sees them: a copy of every configured key's spec, kept in
// step with the scheduler's LimitTable (which lives on the strand), so that a batch is checked
// on the submitter's thread without touching the strand. Thread-safe.
//
// A key deleted between a batch's check and its first task's start is then simply not limited
// (the table treats an unconfigured key as unlimited): a check can be stale by one change, never
// unsafe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "core/limits/limit_spec.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"

namespace batchd::core {

class LimitCatalog {
 public:
  void Set(const LimitSpec& spec);
  void Erase(absl::string_view key);
  bool Contains(absl::string_view key) const;
  size_t size() const;

  // Adds the violations of `uses`, the list at `field` (e.g. "tasks[3].limits") of `owner`
  // (e.g. "task 'a'"), in list order: an empty or too long key, a key named twice, units out of
  // range, a key not configured (unless `allow_unknown`), units above a rate's burst (with the
  // numbers).
  void Check(absl::Span<const LimitUse> uses, bool allow_unknown, absl::string_view field,
             absl::string_view owner, FieldViolations& violations) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, LimitSpec> specs_ ABSL_GUARDED_BY(mu_);
};

// The shape checks that need no configuration (empty or long key, repeats, units range), for
// callers without a catalog; Check includes them.
void CheckLimitUses(absl::Span<const LimitUse> uses, absl::string_view field,
                    absl::string_view owner, FieldViolations& violations);

}  // namespace batchd::core
