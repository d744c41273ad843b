#include "server/convert/worker_convert.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(RegistrationFromProtoTest, CopiesEveryField) {
  v1::WorkerRegistration registration;
  registration.set_name("gpu-box");
  registration.add_executors("embed");
  registration.add_executors("rank");
  registration.set_slots(8);
  registration.set_weight(2.5);
  (*registration.mutable_labels())["zone"] = "b";
  (*registration.mutable_labels())["gpu"] = "a100";
  const core::WorkerRegistrationSpec spec = RegistrationFromProto(registration);
  EXPECT_EQ(spec.name, "gpu-box");
  EXPECT_THAT(spec.executors, ElementsAre("embed", "rank"));
  EXPECT_EQ(spec.slots, 8u);
  EXPECT_EQ(spec.weight, 2.5);
  EXPECT_THAT(spec.labels, ElementsAre(Pair("gpu", "a100"), Pair("zone", "b")));
}

TEST(RegistrationFromProtoTest, AnEmptyRegistrationStaysEmpty) {
  // Refusing zero slots is the hub's job, not the conversion's.
  const core::WorkerRegistrationSpec spec = RegistrationFromProto({});
  EXPECT_EQ(spec.name, "");
  EXPECT_THAT(spec.executors, IsEmpty());
  EXPECT_EQ(spec.slots, 0u);
  EXPECT_EQ(spec.weight, 0);
  EXPECT_THAT(spec.labels, IsEmpty());
}

TEST(WorkerMessageFromProtoTest, ReadsOutcomesHeartbeatAndCancelAcks) {
  v1::ConnectRequest request;
  v1::TaskOutcome* ok = request.add_outcomes();
  ok->set_assignment_id("as-1");
  ok->set_success(true);
  (*ok->mutable_output()->mutable_struct_value()->mutable_fields())["n"].set_number_value(3);
  v1::TaskOutcome* failed = request.add_outcomes();
  failed->set_assignment_id("as-2");
  failed->set_error("quota");
  failed->set_non_retryable(true);
  failed->set_retry_after_ms(250);
  request.mutable_heartbeat();
  request.add_cancel_acks("as-3");
  request.add_cancel_acks("as-4");

  const core::WorkerMessage message = WorkerMessageFromProto(request);
  EXPECT_TRUE(message.heartbeat);
  EXPECT_THAT(message.cancel_acks, ElementsAre("as-3", "as-4"));
  ASSERT_EQ(message.outcomes.size(), 2u);
  EXPECT_EQ(message.outcomes[0].assignment_id, "as-1");
  EXPECT_TRUE(message.outcomes[0].outcome.success);
  EXPECT_EQ(message.outcomes[0].outcome.output, boost::json::parse(R"({"n": 3})"));
  EXPECT_EQ(message.outcomes[0].outcome.error, "");
  EXPECT_FALSE(message.outcomes[0].outcome.non_retryable);
  EXPECT_EQ(message.outcomes[0].outcome.retry_after_ms, std::nullopt);
  EXPECT_EQ(message.outcomes[1].assignment_id, "as-2");
  EXPECT_FALSE(message.outcomes[1].outcome.success);
  EXPECT_TRUE(message.outcomes[1].outcome.output.is_null());
  EXPECT_EQ(message.outcomes[1].outcome.error, "quota");
  EXPECT_TRUE(message.outcomes[1].outcome.non_retryable);
  EXPECT_EQ(message.outcomes[1].outcome.retry_after_ms, std::optional<uint32_t>(250));
}

TEST(WorkerMessageFromProtoTest, ZeroRetryAfterMeansNoAdviceAndNoHeartbeatIsFalse) {
  v1::ConnectRequest request;
  v1::TaskOutcome* outcome = request.add_outcomes();
  outcome->set_assignment_id("as-1");
  outcome->set_retry_after_ms(0);
  const core::WorkerMessage message = WorkerMessageFromProto(request);
  EXPECT_FALSE(message.heartbeat);
  EXPECT_THAT(message.cancel_acks, IsEmpty());
  ASSERT_EQ(message.outcomes.size(), 1u);
  EXPECT_EQ(message.outcomes[0].outcome.retry_after_ms, std::nullopt);
  EXPECT_TRUE(message.outcomes[0].outcome.output.is_null()) << "no output: JSON null";
}

TEST(WorkerMessageFromProtoTest, ReadsThrottledAndUnitsUsed) {
  v1::ConnectRequest request;
  v1::TaskOutcome* throttled = request.add_outcomes();
  throttled->set_assignment_id("as-1");
  throttled->set_throttled(true);
  throttled->set_retry_after_ms(1500);
  v1::TaskOutcome* used = request.add_outcomes();
  used->set_assignment_id("as-2");
  used->set_success(true);
  used->set_units_used(0);  // set, even as 0: a full refund
  request.add_outcomes()->set_assignment_id("as-3");

  const core::WorkerMessage message = WorkerMessageFromProto(request);
  ASSERT_EQ(message.outcomes.size(), 3u);
  EXPECT_TRUE(message.outcomes[0].outcome.throttled);
  EXPECT_EQ(message.outcomes[0].outcome.retry_after_ms, std::optional<uint32_t>(1500));
  EXPECT_EQ(message.outcomes[0].outcome.units_used, std::nullopt);
  EXPECT_FALSE(message.outcomes[1].outcome.throttled);
  EXPECT_EQ(message.outcomes[1].outcome.units_used, std::optional<int64_t>(0));
  EXPECT_FALSE(message.outcomes[2].outcome.throttled);
  EXPECT_EQ(message.outcomes[2].outcome.units_used, std::nullopt);
}

TEST(WorkerMessageFromProtoTest, AnEmptyMessageHasNothing) {
  const core::WorkerMessage message = WorkerMessageFromProto({});
  EXPECT_FALSE(message.heartbeat);
  EXPECT_THAT(message.outcomes, IsEmpty());
  EXPECT_THAT(message.cancel_acks, IsEmpty());
}

TEST(AssignmentToProtoTest, CopiesEveryField) {
  core::WorkerAssignment assignment;
  assignment.assignment_id = "as-9";
  assignment.batch_id = "b1";
  assignment.task_id = "t1";
  assignment.executor = "embed";
  assignment.input = boost::json::parse(R"({"text": "hi", "k": 2})");
  assignment.priority = 4.5;
  assignment.attempt = 2;
  assignment.timeout_ms = 3000;
  assignment.deadline = core::WallTime(std::chrono::seconds(1714564800));
  assignment.dependencies = {"a", "b"};
  assignment.dependency_outputs = {{"a", boost::json::value("out-a")},
                                   {"b", boost::json::parse("[1, 2]")}};
  v1::TaskAssignment proto;
  AssignmentToProto(assignment, &proto);
  EXPECT_EQ(proto.assignment_id(), "as-9");
  EXPECT_EQ(proto.batch_id(), "b1");
  EXPECT_EQ(proto.task_id(), "t1");
  EXPECT_EQ(proto.executor(), "embed");
  const auto& input = proto.input().struct_value().fields();
  ASSERT_EQ(input.size(), 2u);
  EXPECT_EQ(input.at("text").string_value(), "hi");
  EXPECT_EQ(input.at("k").number_value(), 2);
  EXPECT_EQ(proto.priority(), 4.5);
  EXPECT_EQ(proto.attempt(), 2u);
  EXPECT_EQ(proto.timeout_ms(), 3000u);
  EXPECT_EQ(proto.deadline().seconds(), 1714564800);
  EXPECT_EQ(proto.deadline().nanos(), 0);
  EXPECT_THAT(proto.dependencies(), ElementsAre("a", "b"));
  ASSERT_EQ(proto.dependency_outputs().size(), 2u);
  EXPECT_EQ(proto.dependency_outputs().at("a").string_value(), "out-a");
  const google::protobuf::ListValue& b = proto.dependency_outputs().at("b").list_value();
  ASSERT_EQ(b.values_size(), 2);
  EXPECT_EQ(b.values(0).number_value(), 1);
  EXPECT_EQ(b.values(1).number_value(), 2);
}

TEST(AssignmentToProtoTest, NullInputIsAnExplicitNullValue) {
  core::WorkerAssignment assignment;
  assignment.assignment_id = "as-1";
  v1::TaskAssignment proto;
  AssignmentToProto(assignment, &proto);
  ASSERT_TRUE(proto.has_input());
  EXPECT_EQ(proto.input().kind_case(), google::protobuf::Value::kNullValue);
  EXPECT_TRUE(proto.dependencies().empty());
  EXPECT_TRUE(proto.dependency_outputs().empty());
  EXPECT_EQ(proto.deadline().seconds(), 0);
}

}  // namespace
}  // namespace batchd::server
