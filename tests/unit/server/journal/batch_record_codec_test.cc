// The journal's form of a batch: what is encoded decodes to the same spec, the encoding is the
// same bytes for the same content (labels in any order, either RPC), and stored bytes that are
// damaged or no longer valid come back as errors saying which.
#include "server/journal/batch_record_codec.h"

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kDamaged[] = "journal: a stored batch request does not parse";

v1::SubmitBatchRequest TwoTaskRequest() {
  v1::SubmitBatchRequest request;
  request.set_request_id("req-7");
  v1::Task* first = request.add_tasks();
  first->set_id("fetch");
  first->set_executor("sleep");
  first->mutable_input()->set_number_value(25);
  first->set_priority(2.5);
  first->set_timeout_ms(900);
  v1::Task* second = request.add_tasks();
  second->set_id("report");
  (*second->mutable_input()->mutable_struct_value()->mutable_fields())["k"].set_string_value("v");
  second->add_dependencies("fetch");
  request.mutable_options()->set_max_concurrent(3);
  request.mutable_options()->set_aggregation(v1::AGGREGATION_ORDERED);
  (*request.mutable_labels())["team"] = "infra";
  (*request.mutable_labels())["env"] = "test";
  return request;
}

TEST(BatchRecordCodecTest, RoundTripKeepsEveryField) {
  const absl::StatusOr<core::BatchSpec> spec =
      DecodeBatchContent(EncodeBatchContent(TwoTaskRequest()));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request_id, "req-7");
  ASSERT_EQ(spec->tasks.size(), 2u);
  EXPECT_EQ(spec->tasks[0].id, "fetch");
  EXPECT_EQ(spec->tasks[0].executor, "sleep");
  EXPECT_EQ(spec->tasks[0].input, boost::json::value(25));  // integral: read back as an integer
  EXPECT_EQ(spec->tasks[0].priority, 2.5);
  EXPECT_EQ(spec->tasks[0].timeout_ms, 900u);
  EXPECT_EQ(spec->tasks[1].id, "report");
  EXPECT_EQ(spec->tasks[1].executor, "echo");  // unset in the request: the default
  EXPECT_EQ(spec->tasks[1].input, boost::json::parse(R"({"k": "v"})"));
  EXPECT_THAT(spec->tasks[1].dependencies, ElementsAre("fetch"));
  EXPECT_EQ(spec->options.max_concurrent, 3u);
  EXPECT_FALSE(spec->options.timeout_ms.has_value());
  EXPECT_EQ(spec->options.aggregation, core::Aggregation::kOrdered);
  EXPECT_THAT(spec->labels, ElementsAre(Pair("env", "test"), Pair("team", "infra")));
}

TEST(BatchRecordCodecTest, LabelsInAnyInsertionOrderEncodeToTheSameBytes) {
  v1::SubmitBatchRequest forward;
  v1::SubmitBatchRequest backward;
  std::vector<std::string> keys;
  for (char c = 'a'; c <= 'z'; ++c) keys.push_back(std::string(3, c));
  for (const std::string& k : keys) (*forward.mutable_labels())[k] = k + "-value";
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    (*backward.mutable_labels())[*it] = *it + "-value";
  }
  EXPECT_EQ(EncodeBatchContent(forward), EncodeBatchContent(backward));
  // Different content is different bytes.
  (*backward.mutable_labels())["aaa"] = "changed";
  EXPECT_NE(EncodeBatchContent(forward), EncodeBatchContent(backward));
}

TEST(BatchRecordCodecTest, SubmitAndProcessOfOneBatchEncodeAlike) {
  const v1::SubmitBatchRequest submit = TwoTaskRequest();
  v1::ProcessBatchRequest process;
  ASSERT_TRUE(process.ParseFromString(submit.SerializeAsString()));
  EXPECT_EQ(EncodeBatchContent(process), EncodeBatchContent(submit));
}

TEST(BatchRecordCodecTest, FieldsOfANewerVersionAreIgnored) {
  // Field 15, varint 1: unknown to this version, as a newer daemon might have written it.
  const std::string content = EncodeBatchContent(TwoTaskRequest()) + std::string("\x78\x01", 2);
  const absl::StatusOr<core::BatchSpec> spec = DecodeBatchContent(content);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request_id, "req-7");
  EXPECT_EQ(spec->tasks.size(), 2u);
}

TEST(BatchRecordCodecTest, DamagedContentIsDataLoss) {
  const std::string valid = EncodeBatchContent(TwoTaskRequest());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cut inside the last field", valid.substr(0, valid.size() - 1)},
      {"length past the end", std::string("\x12\x7f", 2) + "short"},
      {"field number 0", std::string("\x00\x01", 2)},
      {"wire type 7", std::string("\x0f", 1)},
      {"overlong varint", std::string(11, '\xff')},
  };
  for (const auto& [what, content] : cases) {
    const absl::StatusOr<core::BatchSpec> spec = DecodeBatchContent(content);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_EQ(spec.status().message(), kDamaged) << what;
  }
}

TEST(BatchRecordCodecTest, StoredRequestThatNoLongerConvertsKeepsTheConversionError) {
  v1::SubmitBatchRequest request = TwoTaskRequest();
  request.mutable_options()->set_load_balancer(static_cast<v1::LoadBalancer>(42));
  const absl::StatusOr<core::BatchSpec> spec = DecodeBatchContent(EncodeBatchContent(request));
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "options.load_balancer: unknown value 42");
  EXPECT_THAT(core::FieldViolationsOf(spec.status()),
              ElementsAre(core::FieldViolation{"options.load_balancer",
                                               "options.load_balancer: unknown value 42"}));
}

}  // namespace
}  // namespace batchd::server
