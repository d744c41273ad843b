#include "server/convert/proto_convert.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "core/model/field_violation.h"
#include "server/convert/enum_convert.h"

namespace batchd::server {
namespace {

using Violations = core::FieldViolations;
using FieldName = absl::FunctionRef<std::string()>;

// Largest magnitude below which every integer is exactly representable as a double.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

boost::json::value NumberToJson(double number) {
  const bool integral = std::isfinite(number) && std::trunc(number) == number &&
                        std::fabs(number) <= kMaxExactInteger;
  // -0.0 stays a double so its sign survives the round trip.
  if (integral && !(number == 0.0 && std::signbit(number))) {
    return static_cast<int64_t>(number);
  }
  return number;
}

// The converted enum, or (recording a violation) T{} when `raw` is a number we do not know.
// `field` is only evaluated on error: most requests are valid and field paths cost strings.
template <typename T>
T Checked(std::optional<T> converted, int raw, FieldName field, Violations* violations) {
  if (converted.has_value()) return *converted;
  violations->Add([&] {
    std::string name = field();
    std::string description = absl::StrCat(name, ": unknown value ", raw);
    return core::FieldViolation{std::move(name), std::move(description)};
  });
  return T{};
}

template <typename T>
absl::StatusOr<T> ValueOrViolations(T value, Violations violations) {
  if (!violations.empty()) return std::move(violations).ToStatus();
  return value;
}

core::RetryPolicySpec RetryPolicyFromProto(const v1::RetryPolicy& policy, FieldName field,
                                           Violations* violations) {
  core::RetryPolicySpec spec;
  spec.kind = Checked(
      kRetryKinds.ToCore(policy.kind()), policy.kind(),
      [&] { return absl::StrCat(field(), ".kind"); }, violations);
  if (policy.has_max_retries()) spec.max_retries = policy.max_retries();
  if (policy.has_initial_delay_ms()) spec.initial_delay_ms = policy.initial_delay_ms();
  if (policy.has_increment_ms()) spec.increment_ms = policy.increment_ms();
  if (policy.has_multiplier()) spec.multiplier = policy.multiplier();
  spec.max_delay_ms = policy.max_delay_ms();
  spec.jitter = Checked(
      kJitters.ToCore(policy.jitter()), policy.jitter(),
      [&] { return absl::StrCat(field(), ".jitter"); }, violations);
  spec.retry_on_timeout = policy.retry_on_timeout();
  return spec;
}

// 0 units mean 1 (proto3 cannot tell unset from 0); negative units are refused here, the rest
// of a use (key, range, bursts) is core's to check against the configured limits.
std::vector<core::LimitUse> LimitUsesFromProto(
    const google::protobuf::RepeatedPtrField<v1::LimitUse>& uses, FieldName field,
    Violations* violations) {
  std::vector<core::LimitUse> out;
  out.reserve(static_cast<size_t>(uses.size()));
  for (const v1::LimitUse& use : uses) {
    const size_t j = out.size();
    if (use.units() < 0) {
      violations->Add([&] {
        std::string name = absl::StrCat(field(), "[", j, "].units");
        std::string description = absl::StrCat(name, ": units of limit '", use.key(),
                                               "' must not be negative, got ", use.units());
        return core::FieldViolation{std::move(name), std::move(description)};
      });
    }
    // Refused already: 1 keeps core from reporting the same field again.
    out.push_back({use.key(), use.units() <= 0 ? 1 : use.units()});
  }
  return out;
}

core::CacheSpec CacheFromProto(const v1::CachePolicy& cache) {
  core::CacheSpec spec;
  spec.ttl_ms = cache.ttl_ms();
  spec.key = cache.key();
  spec.name_space = cache.namespace_();
  spec.skip_lookup = cache.skip_lookup();
  return spec;
}

core::TaskSpec TaskFromProto(const v1::Task& task, size_t index, Violations* violations) {
  core::TaskSpec spec;
  spec.id = task.id();
  if (!task.executor().empty()) spec.executor = task.executor();
  if (task.has_input()) spec.input = ValueToJson(task.input());
  spec.priority = task.priority();
  spec.timeout_ms = task.timeout_ms();
  spec.dependencies.assign(task.dependencies().begin(), task.dependencies().end());
  if (task.has_retry_policy()) {
    spec.retry_policy = RetryPolicyFromProto(
        task.retry_policy(), [&] { return absl::StrCat("tasks[", index, "].retry_policy"); },
        violations);
  }
  if (!task.limits().empty()) {
    spec.limits = LimitUsesFromProto(
        task.limits(), [&] { return absl::StrCat("tasks[", index, "].limits"); }, violations);
  }
  if (task.has_cache()) spec.cache = CacheFromProto(task.cache());
  return spec;
}

std::vector<core::TaskSpec> TasksFromProto(
    const google::protobuf::RepeatedPtrField<v1::Task>& tasks, Violations* violations) {
  std::vector<core::TaskSpec> specs;
  specs.reserve(static_cast<size_t>(tasks.size()));
  for (const v1::Task& task : tasks) {
    specs.push_back(TaskFromProto(task, specs.size(), violations));
  }
  return specs;
}

core::BatchOptions BatchOptionsFromProto(const v1::BatchOptions& options, Violations* violations) {
  core::BatchOptions spec;
  if (options.has_max_concurrent()) spec.max_concurrent = options.max_concurrent();
  if (options.has_timeout_ms()) spec.timeout_ms = options.timeout_ms();
  spec.wait_for_workers = options.wait_for_workers();
  spec.retry_policy = RetryPolicyFromProto(
      options.retry_policy(), [] { return std::string("options.retry_policy"); }, violations);
  spec.aggregation = Checked(
      kAggregations.ToCore(options.aggregation()), options.aggregation(),
      [] { return std::string("options.aggregation"); }, violations);
  spec.load_balancer = Checked(
      kLoadBalancers.ToCore(options.load_balancer()), options.load_balancer(),
      [] { return std::string("options.load_balancer"); }, violations);
  spec.on_dependency_failure = Checked(
      kDependencyFailures.ToCore(options.on_dependency_failure()), options.on_dependency_failure(),
      [] { return std::string("options.on_dependency_failure"); }, violations);
  spec.default_limits = LimitUsesFromProto(
      options.default_limits(), [] { return std::string("options.default_limits"); }, violations);
  spec.allow_unknown_limits = options.allow_unknown_limits();
  if (options.has_queue_timeout_ms()) spec.queue_timeout_ms = options.queue_timeout_ms();
  spec.open = options.open();
  if (options.has_close_after_idle_ms()) spec.close_after_idle_ms = options.close_after_idle_ms();
  if (options.has_default_cache()) spec.default_cache = CacheFromProto(options.default_cache());
  return spec;
}

// SubmitBatchRequest and ProcessBatchRequest carry the same batch fields. Violations in input
// order: the tasks', then the options'.
template <typename Request>
core::BatchSpec BatchSpecFromRequest(const Request& request, Violations* violations) {
  core::BatchSpec spec;
  spec.request_id = request.request_id();
  spec.tasks = TasksFromProto(request.tasks(), violations);
  spec.options = BatchOptionsFromProto(request.options(), violations);
  spec.labels.insert(request.labels().begin(), request.labels().end());
  return spec;
}

template <typename Request>
absl::StatusOr<core::BatchSpec> BatchSpecFromRequest(const Request& request) {
  Violations violations;
  core::BatchSpec spec = BatchSpecFromRequest(request, &violations);
  return ValueOrViolations(std::move(spec), std::move(violations));
}

}  // namespace

boost::json::value ValueToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      return NumberToJson(value.number_value());
    case google::protobuf::Value::kStringValue:
      return boost::json::string(value.string_value());
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kStructValue: {
      const auto& fields = value.struct_value().fields();
      boost::json::object object;
      object.reserve(fields.size());
      for (const auto& [key, field] : fields) object.emplace(key, ValueToJson(field));
      return object;
    }
    case google::protobuf::Value::kListValue: {
      const auto& values = value.list_value().values();
      boost::json::array array;
      array.reserve(static_cast<size_t>(values.size()));
      for (const google::protobuf::Value& element : values) array.push_back(ValueToJson(element));
      return array;
    }
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

void JsonToValue(const boost::json::value& json, google::protobuf::Value* out) {
  switch (json.kind()) {
    case boost::json::kind::null:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return;
    case boost::json::kind::bool_:
      out->set_bool_value(json.get_bool());
      return;
    case boost::json::kind::int64:
      out->set_number_value(static_cast<double>(json.get_int64()));
      return;
    case boost::json::kind::uint64:
      out->set_number_value(static_cast<double>(json.get_uint64()));
      return;
    case boost::json::kind::double_:
      out->set_number_value(json.get_double());
      return;
    case boost::json::kind::string: {
      const boost::json::string& text = json.get_string();
      out->set_string_value(text.data(), text.size());
      return;
    }
    case boost::json::kind::array: {
      google::protobuf::ListValue* list = out->mutable_list_value();
      list->mutable_values()->Reserve(static_cast<int>(json.get_array().size()));
      for (const boost::json::value& element : json.get_array()) {
        JsonToValue(element, list->add_values());
      }
      return;
    }
    case boost::json::kind::object: {
      auto* fields = out->mutable_struct_value()->mutable_fields();
      for (const boost::json::key_value_pair& member : json.get_object()) {
        JsonToValue(member.value(), &(*fields)[std::string(member.key())]);
      }
      return;
    }
  }
}

absl::StatusOr<std::vector<core::TaskSpec>> TasksFromProto(
    const google::protobuf::RepeatedPtrField<v1::Task>& tasks) {
  Violations violations;
  std::vector<core::TaskSpec> specs = TasksFromProto(tasks, &violations);
  return ValueOrViolations(std::move(specs), std::move(violations));
}

absl::StatusOr<core::BatchOptions> BatchOptionsFromProto(const v1::BatchOptions& options) {
  Violations violations;
  core::BatchOptions spec = BatchOptionsFromProto(options, &violations);
  return ValueOrViolations(std::move(spec), std::move(violations));
}

absl::StatusOr<core::BatchSpec> BatchSpecFromProto(const v1::SubmitBatchRequest& request) {
  return BatchSpecFromRequest(request);
}

absl::StatusOr<core::BatchSpec> BatchSpecFromProto(const v1::ProcessBatchRequest& request) {
  return BatchSpecFromRequest(request);
}

core::BatchSpec BatchSpecFromProto(const v1::SubmitBatchRequest& request,
                                   core::FieldViolations* violations) {
  return BatchSpecFromRequest(request, violations);
}

core::BatchSpec BatchSpecFromProto(const v1::ProcessBatchRequest& request,
                                   core::FieldViolations* violations) {
  return BatchSpecFromRequest(request, violations);
}

absl::StatusOr<core::LoadBalancerKind> LoadBalancerFromProto(int value, absl::string_view field) {
  Violations violations;
  core::LoadBalancerKind kind = Checked(
      kLoadBalancers.ToCore(value), value, [&] { return std::string(field); }, &violations);
  return ValueOrViolations(kind, std::move(violations));
}

void LayersToProto(absl::Span<const std::vector<uint32_t>> groups,
                   absl::Span<const core::TaskSpec> tasks,
                   google::protobuf::RepeatedPtrField<v1::Layer>* out) {
  out->Reserve(out->size() + static_cast<int>(groups.size()));
  for (const std::vector<uint32_t>& group : groups) {
    TaskIdsToProto(group, tasks, out->Add()->mutable_task_ids());
  }
}

void TaskIdsToProto(absl::Span<const uint32_t> indices, absl::Span<const core::TaskSpec> tasks,
                    google::protobuf::RepeatedPtrField<std::string>* out) {
  out->Reserve(out->size() + static_cast<int>(indices.size()));
  for (uint32_t index : indices) out->Add()->assign(tasks[index].id);
}

}  // namespace batchd::server
