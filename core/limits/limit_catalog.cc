#include "core/limits/limit_catalog.h"

#include "absl/strings/str_cat.h"

namespace batchd::core {
namespace {

// The first problem of one use that needs no configuration, or "" when it has none.
std::string ShapeProblem(const LimitUse& use, absl::string_view owner) {
  if (use.key.empty()) return absl::StrCat("Limit key of ", owner, " must not be empty");
  if (use.key.size() > kMaxLimitKeyBytes) {
    return absl::StrCat("Limit key of ", owner, " must be at most ", kMaxLimitKeyBytes,
                        " bytes, got ", use.key.size());
  }
  if (use.units < 1 || use.units > kMaxLimitUnits) {
    return absl::StrCat("Units of limit '", use.key, "' of ", owner, " must be 1 to ",
                        kMaxLimitUnits, ", got ", use.units);
  }
  return {};
}

template <typename Configured>
void CheckEach(absl::Span<const LimitUse> uses, absl::string_view field, absl::string_view owner,
               FieldViolations& violations, Configured configured) {
  // Lists are short (a task names at most a few keys): a scan, not a set, so a task's check
  // allocates nothing.
  auto named_before = [&](size_t i) {
    for (size_t j = 0; j < i; ++j) {
      if (uses[j].key == uses[i].key && ShapeProblem(uses[j], owner).empty()) return true;
    }
    return false;
  };
  for (size_t i = 0; i < uses.size(); ++i) {
    const LimitUse& use = uses[i];
    if (std::string problem = ShapeProblem(use, owner); !problem.empty()) {
      const bool units = !use.key.empty() && use.key.size() <= kMaxLimitKeyBytes;
      violations.Add(absl::StrCat(field, "[", i, units ? "].units" : "].key"), std::move(problem));
      continue;
    }
    if (named_before(i)) {
      violations.Add(absl::StrCat(field, "[", i, "].key"),
                     absl::StrCat("Limit '", use.key, "' is named twice by ", owner));
      continue;
    }
    configured(i, use);
  }
}

}  // namespace

void LimitCatalog::Set(const LimitSpec& spec) {
  absl::MutexLock lock(&mu_);
  specs_.insert_or_assign(spec.key, spec);
}

void LimitCatalog::Erase(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  specs_.erase(key);
}

bool LimitCatalog::Contains(absl::string_view key) const {
  absl::ReaderMutexLock lock(&mu_);
  return specs_.contains(key);
}

size_t LimitCatalog::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return specs_.size();
}

void CheckLimitUses(absl::Span<const LimitUse> uses, absl::string_view field,
                    absl::string_view owner, FieldViolations& violations) {
  CheckEach(uses, field, owner, violations, [](size_t, const LimitUse&) {});
}

void LimitCatalog::Check(absl::Span<const LimitUse> uses, bool allow_unknown,
                         absl::string_view field, absl::string_view owner,
                         FieldViolations& violations) const {
  if (uses.empty()) return;
  absl::ReaderMutexLock lock(&mu_);
  CheckEach(uses, field, owner, violations, [&](size_t i, const LimitUse& use) {
    const auto it = specs_.find(use.key);
    if (it == specs_.end()) {
      if (allow_unknown) return;
      violations.Add(absl::StrCat(field, "[", i, "].key"),
                     absl::StrCat("Unknown limit '", use.key, "' named by ", owner,
                                  " (configure it, or set options.allow_unknown_limits)"));
      return;
    }
    const LimitSpec& spec = it->second;
    for (size_t r = 0; r < spec.rates.size(); ++r) {
      const LimitRate& rate = spec.rates[r];
      if (rate.measure != RateMeasure::kUnits || use.units <= rate.Burst()) continue;
      violations.Add(absl::StrCat(field, "[", i, "].units"),
                     absl::StrCat(use.units, " units of limit '", use.key, "' named by ", owner,
                                  " exceed the burst ", rate.Burst(), " of its rate ", r, " (",
                                  FormatRate(rate), "): it could never start"));
      return;
    }
  });
}

}  // namespace batchd::core
