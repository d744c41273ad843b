// Conversions between batchd.v1's LimitService messages and core's shared limits
// (core/limits): Limit <-> LimitSpec, LimitState -> LimitStatus. Free functions; thread-safe.
#pragma once

#include "absl/status/statusor.h"
#include "batchd/v1/limit_service.pb.h"
#include "core/limits/limit_spec.h"
#include "core/limits/limit_table.h"
#include "core/time/clock.h"

namespace batchd::server {

// The spec, or INVALID_ARGUMENT with field violations under "limit." in field order: a missing
// period and unknown measures found here, then core's LimitSpec::Validate (a missing period is
// reported once, as missing). Validated, so a returned spec is one the scheduler accepts.
absl::StatusOr<core::LimitSpec> LimitSpecFromProto(const v1::Limit& limit);
void LimitSpecToProto(const core::LimitSpec& spec, v1::Limit* out);

// `paused_until` is a steady time; it is sent as wall time, `wall_now` + (it - `steady_now`),
// both read from the same Clock at about the same time.
void LimitStateToProto(const core::LimitState& state, core::SteadyTime steady_now,
                       core::WallTime wall_now, v1::LimitStatus* out);

}  // namespace batchd::server
