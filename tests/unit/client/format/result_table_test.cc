#include "client/format/result_table.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using ::testing::HasSubstr;

google::protobuf::Value JsonValue(const std::string& json) {
  google::protobuf::Value value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &value).ok()) << json;
  return value;
}

v1::BatchSummary MixedSummary() {
  v1::BatchSummary summary;
  summary.set_batch_id("b1");
  summary.set_state(v1::BATCH_STATE_FAILED);
  v1::TaskResult* a = summary.add_results();
  a->set_task_id("a");
  a->set_success(true);
  a->set_state(v1::TASK_STATE_SUCCEEDED);
  a->set_duration_ms(101.5);
  *a->mutable_output() = JsonValue(R"({"ms": 100})");
  v1::TaskResult* bb = summary.add_results();
  bb->set_task_id("bb");
  bb->set_state(v1::TASK_STATE_FAILED);
  bb->set_retry_count(2);
  bb->set_duration_ms(30000);
  bb->set_error("boom\nline2");
  *bb->mutable_output() = JsonValue(R"("ignored for failed tasks")");
  v1::TaskResult* c = summary.add_results();
  c->set_task_id("c");
  c->set_state(v1::TASK_STATE_SKIPPED);
  summary.set_total_tasks(3);
  summary.set_successful_count(1);
  summary.set_failed_count(2);
  summary.set_retried_count(1);
  summary.set_total_duration_ms(30150.5);
  summary.set_throughput_per_second(0.0995);
  return summary;
}

TEST(FormatResultTableTest, AlignsColumnsAndEndsWithSummary) {
  EXPECT_EQ(FormatResultTable(MixedSummary()),
            "TASK  STATE      RETRIES  DURATION_MS  OUTPUT/ERROR\n"
            "a     SUCCEEDED        0        101.5  {\"ms\":100}\n"
            "bb    FAILED           2      30000.0  boom line2\n"
            "c     SKIPPED          0          0.0  -\n"
            "batch b1 FAILED: total 3, successful 1, failed 2, retried 1, success rate 33.3%, "
            "duration 30.15 s, throughput 0.1 tasks/s\n");
}

TEST(FormatResultTableTest, TruncatesLongOutput) {
  v1::BatchSummary summary;
  v1::TaskResult* result = summary.add_results();
  result->set_task_id("t");
  result->set_success(true);
  *result->mutable_output() = JsonValue("\"" + std::string(100, 'x') + "\"");
  const std::string table = FormatResultTable(summary);
  EXPECT_THAT(table, HasSubstr("  \"" + std::string(56, 'x') + "...\n"));
}

TEST(FormatResultLineTest, ShowsOneResult) {
  EXPECT_EQ(FormatResultLine(MixedSummary().results(0)),
            "a  SUCCEEDED  retries 0  101.5 ms  {\"ms\":100}");
  EXPECT_EQ(FormatResultLine(MixedSummary().results(1)),
            "bb  FAILED  retries 2  30.00 s  boom line2");
}

TEST(FormatSummaryLineTest, AddsCancelReasonAndHandlesEmptyBatch) {
  v1::BatchSummary summary;
  summary.set_batch_id("b2");
  summary.set_state(v1::BATCH_STATE_CANCELLED);
  summary.set_cancel_reason("user asked");
  EXPECT_EQ(FormatSummaryLine(summary),
            "batch b2 CANCELLED: total 0, successful 0, failed 0, retried 0, success rate -, "
            "duration 0.0 ms, throughput 0.0 tasks/s, cancelled: user asked");
}

TEST(CompactJsonTest, PrintsCompactJsonOrDash) {
  EXPECT_EQ(CompactJson(JsonValue(R"({"k": [1, "two", true, null]})")),
            R"({"k":[1,"two",true,null]})");
  EXPECT_EQ(CompactJson(JsonValue(R"({"z": {"b": 1.5, "a": "x\"y"}, "a": [], "m": {}})")),
            R"({"a":[],"m":{},"z":{"a":"x\"y","b":1.5}})");
  EXPECT_EQ(CompactJson(google::protobuf::Value()), "-");
  EXPECT_EQ(CompactJson(JsonValue(R"("abcdef")"), 6), R"("ab...)");
}

}  // namespace
}  // namespace batchd::client
