#include "core/limits/limit_spec.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/model/field_violation.h"

namespace batchd::core {
namespace {

std::string FormatPeriod(Duration d) { return absl::FormatDuration(absl::FromChrono(d)); }

// RFC 9110 tchar, what a header name is made of (the http executor checks request headers the
// same way).
bool IsHeaderName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (absl::string_view("!#$%&'*+-.^_`|~").find(c) == absl::string_view::npos) return false;
  }
  return true;
}

void ValidateRate(const LimitSpec& spec, size_t i, const LimitRate& rate,
                  FieldViolations& violations) {
  const std::string at = absl::StrCat("rates[", i, "]");
  auto add = [&](absl::string_view field, std::string problem) {
    std::string path = absl::StrCat(at, ".", field);
    violations.Add(path, absl::StrCat("Limit '", spec.key, "': ", path, " ", problem));
  };
  if (rate.units < 1) {
    add("units", absl::StrCat("must be at least 1, got ", rate.units));
  } else if (rate.units > kMaxLimitUnits) {
    add("units", absl::StrCat("must be at most ", kMaxLimitUnits, ", got ", rate.units));
  }
  if (rate.period <= Duration::zero()) {
    add("period", absl::StrCat("must be positive, got ", FormatPeriod(rate.period)));
  } else if (rate.period > kMaxLimitPeriod) {
    add("period", absl::StrCat("must be at most ", FormatPeriod(kMaxLimitPeriod), ", got ",
                               FormatPeriod(rate.period)));
  }
  if (rate.burst.has_value()) {
    if (*rate.burst < 1) {
      add("burst", absl::StrCat("must be at least 1, got ", *rate.burst));
    } else if (*rate.burst > kMaxLimitUnits) {
      add("burst", absl::StrCat("must be at most ", kMaxLimitUnits, ", got ", *rate.burst));
    }
  }
}

}  // namespace

absl::Status LimitSpec::Validate() const {
  FieldViolations violations;
  if (key.empty()) {
    violations.Add("key", "Limit key must not be empty");
  } else if (key.size() > kMaxLimitKeyBytes) {
    violations.Add("key", absl::StrCat("Limit key must be at most ", kMaxLimitKeyBytes,
                                       " bytes, got ", key.size()));
  }
  if (max_in_flight.has_value() && *max_in_flight < 1) {
    violations.Add("max_in_flight", absl::StrCat("Limit '", key, "': max_in_flight must be at ",
                                                 "least 1, got ", *max_in_flight));
  }
  if (!max_in_flight.has_value() && rates.empty()) {
    violations.Add("rates", absl::StrCat("Limit '", key, "' has neither max_in_flight nor a rate"));
  }
  for (size_t i = 0; i < rates.size(); ++i) ValidateRate(*this, i, rates[i], violations);
  if (!units_header.empty() && !IsHeaderName(units_header)) {
    violations.Add("units_header",
                   absl::StrCat("Limit '", key, "': units_header '", absl::CHexEscape(units_header),
                                "' is not a valid HTTP header name"));
  }
  return std::move(violations).ToStatus();
}

std::string FormatRate(const LimitRate& rate) {
  std::string out = absl::StrCat(rate.units, " per ", FormatPeriod(rate.period));
  if (rate.measure == RateMeasure::kRequests) absl::StrAppend(&out, " requests");
  if (rate.burst.has_value()) absl::StrAppend(&out, " (burst ", *rate.burst, ")");
  return out;
}

}  // namespace batchd::core
