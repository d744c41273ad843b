// Conversions between batchd.v1 messages and core's plain values (core/model/batch_spec.h).
// Only message-level checks happen here (enum numbers the daemon does not know); graph and
// policy rules stay in core. Free functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "batchd/v1/batch.pb.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/struct.pb.h"

namespace batchd::server {

// google.protobuf.Value <-> JSON by a direct tree walk (no JSON text in between). Value numbers
// are doubles: integral ones within +-2^53 become int64 in JSON, the rest stay double; JSON
// integers become doubles. An unset Value is JSON null. Recursive: the depth is bounded by the
// parsers that built the input (protobuf's recursion limit, boost::json's max_depth).
boost::json::value ValueToJson(const google::protobuf::Value& value);
void JsonToValue(const boost::json::value& json, google::protobuf::Value* out);

// Errors are INVALID_ARGUMENT with field violations naming the field as the request spells it,
// e.g. "options.aggregation: unknown value 99". UNSPECIFIED enums become core's defaults.
absl::StatusOr<std::vector<core::TaskSpec>> TasksFromProto(
    const google::protobuf::RepeatedPtrField<v1::Task>& tasks);
absl::StatusOr<core::BatchOptions> BatchOptionsFromProto(const v1::BatchOptions& options);
absl::StatusOr<core::BatchSpec> BatchSpecFromProto(const v1::SubmitBatchRequest& request);
absl::StatusOr<core::BatchSpec> BatchSpecFromProto(const v1::ProcessBatchRequest& request);
// As above, but always the spec (an unknown enum as its first value), adding the violations to
// `violations` in input order: for joining with other checks of the same request.
core::BatchSpec BatchSpecFromProto(const v1::SubmitBatchRequest& request,
                                   core::FieldViolations* violations);
core::BatchSpec BatchSpecFromProto(const v1::ProcessBatchRequest& request,
                                   core::FieldViolations* violations);
// `field` names the enum in errors (e.g. "strategy").
absl::StatusOr<core::LoadBalancerKind> LoadBalancerFromProto(int value, absl::string_view field);

// Task indices (into `tasks`) back to ids: one Layer per group, or a flat id list.
void LayersToProto(absl::Span<const std::vector<uint32_t>> groups,
                   absl::Span<const core::TaskSpec> tasks,
                   google::protobuf::RepeatedPtrField<v1::Layer>* out);
void TaskIdsToProto(absl::Span<const uint32_t> indices, absl::Span<const core::TaskSpec> tasks,
                    google::protobuf::RepeatedPtrField<std::string>* out);

}  // namespace batchd::server
