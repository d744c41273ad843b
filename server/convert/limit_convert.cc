#include "server/convert/limit_convert.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/model/field_violation.h"
#include "google/protobuf/duration.pb.h"
#include "server/convert/enum_convert.h"
#include "server/convert/result_convert.h"

namespace batchd::server {
namespace {

constexpr absl::string_view kField = "limit";

// Saturates far outside the range core accepts, so core's "must be at most" still applies.
core::Duration DurationFromProto(const google::protobuf::Duration& d) {
  return absl::ToChronoNanoseconds(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()));
}

void DurationToProto(core::Duration d, google::protobuf::Duration* out) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

core::LimitRate RateFromProto(const v1::LimitRate& rate, absl::string_view key, size_t i,
                              core::FieldViolations& violations) {
  core::LimitRate out;
  out.units = rate.units();
  if (rate.has_period()) {
    out.period = DurationFromProto(rate.period());
  } else {
    const std::string field = absl::StrCat(kField, ".rates[", i, "].period");
    violations.Add(field, absl::StrCat("Limit '", key, "': ", field,
                                       " is missing (a positive duration, e.g. 1s)"));
  }
  if (rate.has_burst()) out.burst = rate.burst();
  if (std::optional<core::RateMeasure> measure = kRateMeasures.ToCore(rate.measure())) {
    out.measure = *measure;
  } else {
    const std::string field = absl::StrCat(kField, ".rates[", i, "].measure");
    violations.Add(field, absl::StrCat(field, ": unknown value ", rate.measure()));
  }
  return out;
}

}  // namespace

absl::StatusOr<core::LimitSpec> LimitSpecFromProto(const v1::Limit& limit) {
  core::LimitSpec spec;
  spec.key = limit.key();
  if (limit.has_max_in_flight()) spec.max_in_flight = limit.max_in_flight();
  spec.units_header = limit.units_header();
  core::FieldViolations violations;
  spec.rates.reserve(static_cast<size_t>(limit.rates_size()));
  for (const v1::LimitRate& rate : limit.rates()) {
    spec.rates.push_back(RateFromProto(rate, spec.key, spec.rates.size(), violations));
  }
  absl::flat_hash_set<std::string> reported;
  for (const core::FieldViolation& v : violations.listed()) reported.insert(v.field);
  core::FieldViolations validation;
  for (core::FieldViolation& v : core::FieldViolationsOf(spec.Validate())) {
    std::string field = absl::StrCat(kField, ".", v.field);
    if (!reported.contains(field)) validation.Add(std::move(field), std::move(v.description));
  }
  violations.Merge(std::move(validation));
  if (!violations.empty()) return std::move(violations).ToStatus();
  return spec;
}

void LimitSpecToProto(const core::LimitSpec& spec, v1::Limit* out) {
  out->set_key(spec.key);
  if (spec.max_in_flight.has_value()) out->set_max_in_flight(*spec.max_in_flight);
  out->mutable_rates()->Reserve(static_cast<int>(spec.rates.size()));
  for (const core::LimitRate& rate : spec.rates) {
    v1::LimitRate* r = out->add_rates();
    r->set_units(rate.units);
    DurationToProto(rate.period, r->mutable_period());
    if (rate.burst.has_value()) r->set_burst(*rate.burst);
    r->set_measure(kRateMeasures.ToProto(rate.measure));
  }
  out->set_units_header(spec.units_header);
}

void LimitStateToProto(const core::LimitState& state, core::SteadyTime steady_now,
                       core::WallTime wall_now, v1::LimitStatus* out) {
  LimitSpecToProto(state.spec, out->mutable_limit());
  out->set_in_flight(state.in_flight);
  out->set_waiting(static_cast<uint32_t>(state.waiting));
  if (state.paused_until.has_value()) {
    const auto wall = wall_now + std::chrono::duration_cast<core::WallTime::duration>(
                                     *state.paused_until - steady_now);
    WallToProto(wall, out->mutable_paused_until());
  }
  out->set_throttled(state.throttled);
  out->mutable_available()->Add(state.available.begin(), state.available.end());
  out->mutable_effective_units()->Add(state.effective_rate.begin(), state.effective_rate.end());
}

}  // namespace batchd::server
