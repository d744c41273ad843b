#include "server/convert/proto_convert.h"

#include <google/protobuf/util/message_differencer.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

google::protobuf::Value NumberValue(double number) {
  google::protobuf::Value value;
  value.set_number_value(number);
  return value;
}

google::protobuf::Value ValueOf(const boost::json::value& json) {
  google::protobuf::Value value;
  JsonToValue(json, &value);
  return value;
}

TEST(ValueToJsonTest, IntegralNumbersBecomeInt64) {
  EXPECT_EQ(ValueToJson(NumberValue(3.0)), boost::json::value(int64_t{3}));
  EXPECT_TRUE(ValueToJson(NumberValue(-42.0)).is_int64());
  EXPECT_EQ(ValueToJson(NumberValue(9007199254740992.0)).as_int64(), int64_t{9007199254740992});
  EXPECT_EQ(ValueToJson(NumberValue(-9007199254740992.0)).as_int64(), -int64_t{9007199254740992});
}

TEST(ValueToJsonTest, OtherNumbersStayDouble) {
  EXPECT_EQ(ValueToJson(NumberValue(1.5)), boost::json::value(1.5));
  // Integral but beyond 2^53: not every neighbour is representable, so keep it a double.
  EXPECT_TRUE(ValueToJson(NumberValue(18014398509481984.0)).is_double());
  EXPECT_TRUE(ValueToJson(NumberValue(1e300)).is_double());
  EXPECT_TRUE(ValueToJson(NumberValue(std::numeric_limits<double>::infinity())).is_double());
  EXPECT_TRUE(ValueToJson(NumberValue(std::nan(""))).is_double());
  const boost::json::value negative_zero = ValueToJson(NumberValue(-0.0));
  ASSERT_TRUE(negative_zero.is_double());
  EXPECT_TRUE(std::signbit(negative_zero.as_double()));
}

TEST(ValueToJsonTest, ScalarsAndNull) {
  google::protobuf::Value value;
  EXPECT_TRUE(ValueToJson(value).is_null()) << "unset Value";
  value.set_null_value(google::protobuf::NULL_VALUE);
  EXPECT_TRUE(ValueToJson(value).is_null());
  value.set_bool_value(true);
  EXPECT_EQ(ValueToJson(value), boost::json::value(true));
  value.set_string_value("héllo");
  EXPECT_EQ(ValueToJson(value), boost::json::value("héllo"));
}

TEST(ValueToJsonTest, NestedStructsAndLists) {
  google::protobuf::Value value;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  fields["n"].set_number_value(7);
  auto* list = fields["list"].mutable_list_value();
  list->add_values()->set_string_value("x");
  list->add_values()->set_null_value(google::protobuf::NULL_VALUE);
  (*list->add_values()->mutable_struct_value()->mutable_fields())["deep"].set_bool_value(false);

  EXPECT_EQ(ValueToJson(value), boost::json::parse(R"({"n":7,"list":["x",null,{"deep":false}]})"));
}

TEST(JsonToValueTest, IntegersBecomeDoubles) {
  EXPECT_DOUBLE_EQ(ValueOf(boost::json::value(int64_t{-5})).number_value(), -5.0);
  EXPECT_DOUBLE_EQ(ValueOf(boost::json::value(std::numeric_limits<uint64_t>::max())).number_value(),
                   18446744073709551615.0);
  EXPECT_DOUBLE_EQ(ValueOf(boost::json::value(0.25)).number_value(), 0.25);
}

TEST(JsonToValueTest, NullBoolString) {
  EXPECT_EQ(ValueOf(boost::json::value(nullptr)).kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_EQ(ValueOf(boost::json::value(false)).kind_case(), google::protobuf::Value::kBoolValue);
  EXPECT_FALSE(ValueOf(boost::json::value(false)).bool_value());
  EXPECT_EQ(ValueOf(boost::json::value("s")).string_value(), "s");
}

TEST(JsonRoundTripTest, JsonToValueAndBack) {
  const boost::json::value json = boost::json::parse(
      R"({"a":[1,2.5,null,true,"x",{"b":{},"c":[]}],"neg":-7,"big":9007199254740992,)"
      R"("obj":{"nested":{"deeper":[[[]]]}},"empty":""})");
  EXPECT_EQ(ValueToJson(ValueOf(json)), json) << boost::json::serialize(json);
}

TEST(JsonRoundTripTest, ValueToJsonAndBack) {
  google::protobuf::Value value;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  fields["pi"].set_number_value(3.14159);
  fields["count"].set_number_value(12);
  fields["none"].set_null_value(google::protobuf::NULL_VALUE);
  fields["flag"].set_bool_value(true);
  fields["items"].mutable_list_value()->add_values()->set_string_value("a");

  google::protobuf::Value back;
  JsonToValue(ValueToJson(value), &back);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(value, back))
      << value.DebugString() << "\nvs\n"
      << back.DebugString();
}

TEST(TasksFromProtoTest, AppliesDefaults) {
  google::protobuf::RepeatedPtrField<v1::Task> tasks;
  v1::Task* task = tasks.Add();
  task->set_id("a");

  absl::StatusOr<std::vector<core::TaskSpec>> specs = TasksFromProto(tasks);
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 1u);
  const core::TaskSpec& spec = specs->front();
  EXPECT_EQ(spec.id, "a");
  EXPECT_EQ(spec.executor, core::kDefaultExecutor);
  EXPECT_TRUE(spec.input.is_null());
  EXPECT_EQ(spec.priority, 0.0);
  EXPECT_EQ(spec.timeout_ms, 0u);
  EXPECT_TRUE(spec.dependencies.empty());
  EXPECT_FALSE(spec.retry_policy.has_value());
}

TEST(TasksFromProtoTest, CopiesEveryField) {
  google::protobuf::RepeatedPtrField<v1::Task> tasks;
  v1::Task* task = tasks.Add();
  task->set_id("b");
  task->set_executor("sleep");
  task->mutable_input()->set_number_value(250);
  task->set_priority(2.5);
  task->set_timeout_ms(100);
  task->add_dependencies("a");
  task->add_dependencies("c");
  v1::RetryPolicy* policy = task->mutable_retry_policy();
  policy->set_kind(v1::RETRY_KIND_LINEAR);
  policy->set_max_retries(0);
  policy->set_increment_ms(50);
  policy->set_max_delay_ms(900);
  policy->set_jitter(v1::JITTER_FULL);
  policy->set_retry_on_timeout(true);

  absl::StatusOr<std::vector<core::TaskSpec>> specs = TasksFromProto(tasks);
  ASSERT_TRUE(specs.ok()) << specs.status();
  const core::TaskSpec& spec = specs->front();
  EXPECT_EQ(spec.executor, "sleep");
  EXPECT_EQ(spec.input, boost::json::value(int64_t{250}));
  EXPECT_EQ(spec.priority, 2.5);
  EXPECT_EQ(spec.timeout_ms, 100u);
  EXPECT_THAT(spec.dependencies, ElementsAre("a", "c"));
  ASSERT_TRUE(spec.retry_policy.has_value());
  EXPECT_EQ(spec.retry_policy->kind, core::RetryKind::kLinear);
  EXPECT_EQ(spec.retry_policy->max_retries, 0u) << "explicit zero is kept";
  EXPECT_FALSE(spec.retry_policy->initial_delay_ms.has_value());
  EXPECT_EQ(spec.retry_policy->increment_ms, 50u);
  EXPECT_FALSE(spec.retry_policy->multiplier.has_value());
  EXPECT_EQ(spec.retry_policy->max_delay_ms, 900u);
  EXPECT_EQ(spec.retry_policy->jitter, core::Jitter::kFull);
  EXPECT_TRUE(spec.retry_policy->retry_on_timeout);
}

TEST(TasksFromProtoTest, UnknownRetryKindNamesTheTaskField) {
  google::protobuf::RepeatedPtrField<v1::Task> tasks;
  tasks.Add()->set_id("a");
  v1::Task* task = tasks.Add();
  task->set_id("b");
  task->mutable_retry_policy()->set_kind(static_cast<v1::RetryKind>(42));

  absl::StatusOr<std::vector<core::TaskSpec>> specs = TasksFromProto(tasks);
  EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(specs.status().message(), "tasks[1].retry_policy.kind: unknown value 42");
  EXPECT_THAT(core::FieldViolationsOf(specs.status()),
              ElementsAre(core::FieldViolation{"tasks[1].retry_policy.kind",
                                               "tasks[1].retry_policy.kind: unknown value 42"}));
}

TEST(BatchSpecFromProtoTest, UnspecifiedEnumsBecomeCoreDefaults) {
  v1::SubmitBatchRequest request;
  request.set_request_id("req-1");
  request.add_tasks()->set_id("a");
  (*request.mutable_labels())["team"] = "infra";

  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request_id, "req-1");
  EXPECT_EQ(spec->tasks.size(), 1u);
  EXPECT_EQ(spec->labels.at("team"), "infra");
  EXPECT_FALSE(spec->options.max_concurrent.has_value());
  EXPECT_FALSE(spec->options.timeout_ms.has_value());
  EXPECT_EQ(spec->options.retry_policy.kind, core::kDefaultRetryKind);
  EXPECT_EQ(spec->options.retry_policy.jitter, core::Jitter::kNone);
  EXPECT_EQ(spec->options.aggregation, core::kDefaultAggregation);
  EXPECT_EQ(spec->options.load_balancer, core::kDefaultLoadBalancer);
  EXPECT_EQ(spec->options.on_dependency_failure, core::kDefaultDependencyFailure);
}

TEST(BatchSpecFromProtoTest, ExplicitOptions) {
  v1::ProcessBatchRequest request;
  v1::BatchOptions* options = request.mutable_options();
  options->set_max_concurrent(0);
  options->set_timeout_ms(1234);
  options->mutable_retry_policy()->set_kind(v1::RETRY_KIND_NONE);
  options->mutable_retry_policy()->set_multiplier(3.0);
  options->set_aggregation(v1::AGGREGATION_PRIORITY);
  options->set_load_balancer(v1::LOAD_BALANCER_WEIGHTED);
  options->set_on_dependency_failure(v1::DEPENDENCY_FAILURE_CANCEL_BATCH);

  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->options.max_concurrent, 0u) << "0 reaches core, which rejects it";
  EXPECT_EQ(spec->options.timeout_ms, 1234u);
  EXPECT_EQ(spec->options.retry_policy.kind, core::RetryKind::kNone);
  EXPECT_EQ(spec->options.retry_policy.multiplier, 3.0);
  EXPECT_EQ(spec->options.aggregation, core::Aggregation::kPriority);
  EXPECT_EQ(spec->options.load_balancer, core::LoadBalancerKind::kWeighted);
  EXPECT_EQ(spec->options.on_dependency_failure, core::DependencyFailure::kCancelBatch);
}

TEST(BatchSpecFromProtoTest, UnknownAggregationIsInvalidArgumentNamingTheField) {
  v1::SubmitBatchRequest request;
  request.mutable_options()->set_aggregation(static_cast<v1::Aggregation>(99));

  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "options.aggregation: unknown value 99");
  EXPECT_THAT(core::FieldViolationsOf(spec.status()),
              ElementsAre(core::FieldViolation{"options.aggregation",
                                               "options.aggregation: unknown value 99"}));
}

TEST(BatchSpecFromProtoTest, ReportsEveryUnknownEnum) {
  v1::SubmitBatchRequest request;
  request.mutable_options()->mutable_retry_policy()->set_jitter(static_cast<v1::Jitter>(7));
  request.mutable_options()->set_load_balancer(static_cast<v1::LoadBalancer>(-1));
  request.mutable_options()->set_on_dependency_failure(static_cast<v1::DependencyFailure>(4));

  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "options.retry_policy.jitter: unknown value 7 (and 2 more)");
  std::vector<std::string> fields;
  for (const core::FieldViolation& v : core::FieldViolationsOf(spec.status())) {
    fields.push_back(v.field);
  }
  EXPECT_THAT(fields, ElementsAre("options.retry_policy.jitter", "options.load_balancer",
                                  "options.on_dependency_failure"));
}

TEST(BatchSpecFromProtoTest, LimitsOfTasksAndOptions) {
  v1::SubmitBatchRequest request;
  v1::Task* task = request.add_tasks();
  task->set_id("a");
  v1::LimitUse* openai = task->add_limits();
  openai->set_key("openai");
  openai->set_units(1200);
  task->add_limits()->set_key("tenant:42");  // units 0: 1
  request.add_tasks()->set_id("b");
  v1::BatchOptions* options = request.mutable_options();
  options->add_default_limits()->set_key("db");
  options->set_allow_unknown_limits(true);
  options->set_queue_timeout_ms(5000);

  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->tasks[0].limits,
              ElementsAre(core::LimitUse{"openai", 1200}, core::LimitUse{"tenant:42", 1}));
  EXPECT_THAT(spec->tasks[1].limits, ElementsAre());
  EXPECT_THAT(spec->options.default_limits, ElementsAre(core::LimitUse{"db", 1}));
  EXPECT_TRUE(spec->options.allow_unknown_limits);
  EXPECT_EQ(spec->options.queue_timeout_ms, std::optional<uint32_t>(5000));
}

TEST(BatchSpecFromProtoTest, NoLimitOptionsByDefault) {
  v1::SubmitBatchRequest request;
  request.add_tasks()->set_id("a");
  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->options.default_limits, ElementsAre());
  EXPECT_FALSE(spec->options.allow_unknown_limits);
  EXPECT_EQ(spec->options.queue_timeout_ms, std::nullopt);
}

TEST(BatchSpecFromProtoTest, NegativeUnitsNameTheLimitField) {
  v1::SubmitBatchRequest request;
  request.add_tasks()->set_id("a");
  v1::Task* b = request.add_tasks();
  b->set_id("b");
  b->add_limits()->set_key("ok");
  v1::LimitUse* bad = b->add_limits();
  bad->set_key("openai");
  bad->set_units(-5);
  v1::LimitUse* bad_default = request.mutable_options()->add_default_limits();
  bad_default->set_key("db");
  bad_default->set_units(-1);

  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromProto(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "tasks[1].limits[1].units: units of limit 'openai' must not be negative, got -5 "
            "(and 1 more)");
  EXPECT_THAT(
      core::FieldViolationsOf(spec.status()),
      ElementsAre(core::FieldViolation{"tasks[1].limits[1].units",
                                       "tasks[1].limits[1].units: units of limit 'openai' must "
                                       "not be negative, got -5"},
                  core::FieldViolation{"options.default_limits[0].units",
                                       "options.default_limits[0].units: units of limit 'db' "
                                       "must not be negative, got -1"}));
}

TEST(LoadBalancerFromProtoTest, MapsKnownValues) {
  EXPECT_EQ(*LoadBalancerFromProto(v1::LOAD_BALANCER_UNSPECIFIED, "strategy"),
            core::kDefaultLoadBalancer);
  EXPECT_EQ(*LoadBalancerFromProto(v1::LOAD_BALANCER_ROUND_ROBIN, "strategy"),
            core::LoadBalancerKind::kRoundRobin);
  EXPECT_EQ(*LoadBalancerFromProto(v1::LOAD_BALANCER_RANDOM, "strategy"),
            core::LoadBalancerKind::kRandom);
}

TEST(LoadBalancerFromProtoTest, UnknownValueNamesTheField) {
  absl::StatusOr<core::LoadBalancerKind> kind = LoadBalancerFromProto(99, "strategy");
  EXPECT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kind.status().message(), "strategy: unknown value 99");
  EXPECT_THAT(core::FieldViolationsOf(kind.status()),
              ElementsAre(core::FieldViolation{"strategy", "strategy: unknown value 99"}));
}

TEST(LayersToProtoTest, IndicesBecomeIds) {
  std::vector<core::TaskSpec> tasks(3);
  tasks[0].id = "a";
  tasks[1].id = "b";
  tasks[2].id = "c";
  google::protobuf::RepeatedPtrField<v1::Layer> layers;
  LayersToProto({{0}, {2, 1}, {}}, tasks, &layers);
  ASSERT_EQ(layers.size(), 3);
  EXPECT_THAT(layers[0].task_ids(), ElementsAre("a"));
  EXPECT_THAT(layers[1].task_ids(), ElementsAre("c", "b"));
  EXPECT_TRUE(layers[2].task_ids().empty());

  google::protobuf::RepeatedPtrField<std::string> ids;
  TaskIdsToProto({2, 0}, tasks, &ids);
  EXPECT_THAT(ids, ElementsAre("c", "a"));
}

}  // namespace
}  // namespace batchd::server
