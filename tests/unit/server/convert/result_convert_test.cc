#include "server/convert/result_convert.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int64_t kMay1Noon2024 = 1714564800;

core::WallTime At(int64_t seconds, int64_t nanos = 0) {
  return core::WallTime(std::chrono::duration_cast<core::WallTime::duration>(
      std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

TEST(WallToProtoTest, SplitsSecondsAndNanos) {
  google::protobuf::Timestamp t;
  WallToProto(At(kMay1Noon2024, 123456789), &t);
  EXPECT_EQ(t.seconds(), kMay1Noon2024);
  EXPECT_EQ(t.nanos(), 123456789);
  WallToProto(core::WallTime{}, &t);
  EXPECT_EQ(t.seconds(), 0);
  EXPECT_EQ(t.nanos(), 0);
}

TEST(WallToProtoTest, BeforeTheEpochNanosStayNonNegative) {
  google::protobuf::Timestamp t;
  WallToProto(At(-1, 250000000), &t);  // 0.75 s before 1970
  EXPECT_EQ(t.seconds(), -1);
  EXPECT_EQ(t.nanos(), 250000000);
  WallToProto(At(0, -1), &t);  // 1 ns before 1970
  EXPECT_EQ(t.seconds(), -1);
  EXPECT_EQ(t.nanos(), 999999999);
}

TEST(TaskStateToProtoTest, MapsEveryStateAndUnknownToUnspecified) {
  EXPECT_EQ(TaskStateToProto(core::TaskState::kPending), v1::TASK_STATE_PENDING);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kRunning), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kRetryWait), v1::TASK_STATE_RETRY_WAIT);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kSucceeded), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kFailed), v1::TASK_STATE_FAILED);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kTimedOut), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kSkipped), v1::TASK_STATE_SKIPPED);
  EXPECT_EQ(TaskStateToProto(core::TaskState::kCancelled), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(TaskStateToProto(static_cast<core::TaskState>(99)), v1::TASK_STATE_UNSPECIFIED);
}

TEST(BatchStateToProtoTest, MapsEveryStateAndUnknownToUnspecified) {
  EXPECT_EQ(BatchStateToProto(core::BatchState::kPending), v1::BATCH_STATE_PENDING);
  EXPECT_EQ(BatchStateToProto(core::BatchState::kRunning), v1::BATCH_STATE_RUNNING);
  EXPECT_EQ(BatchStateToProto(core::BatchState::kSucceeded), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(BatchStateToProto(core::BatchState::kFailed), v1::BATCH_STATE_FAILED);
  EXPECT_EQ(BatchStateToProto(core::BatchState::kCancelled), v1::BATCH_STATE_CANCELLED);
  EXPECT_EQ(BatchStateToProto(static_cast<core::BatchState>(99)), v1::BATCH_STATE_UNSPECIFIED);
}

class TaskResultToProtoTest : public ::testing::Test {
 protected:
  core::TaskResult Succeeded() const {
    core::TaskResult result;
    result.task = 3;
    result.task_id = &id_;
    result.state = core::TaskState::kSucceeded;
    result.retry_count = 2;
    result.priority = 1.5;
    result.output = boost::json::parse(R"({"n": 7, "tags": ["a", true, null]})");
    result.duration_ms = 12.25;
    result.started_at = At(kMay1Noon2024, 500);
    result.finished_at = At(kMay1Noon2024 + 1, 250000000);
    result.worker_id = "w-1";
    result.executor = &executor_;
    return result;
  }

  const std::string id_ = "fetch";
  const std::string executor_ = "http";
};

TEST_F(TaskResultToProtoTest, CopiesEveryField) {
  v1::TaskResult proto;
  TaskResultToProto(Succeeded(), &proto);
  EXPECT_EQ(proto.task_id(), "fetch");
  EXPECT_TRUE(proto.success());
  EXPECT_EQ(proto.state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(proto.has_output());
  const auto& fields = proto.output().struct_value().fields();
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields.at("n").number_value(), 7);
  ASSERT_EQ(fields.at("tags").list_value().values_size(), 3);
  EXPECT_EQ(fields.at("tags").list_value().values(0).string_value(), "a");
  EXPECT_TRUE(fields.at("tags").list_value().values(1).bool_value());
  EXPECT_EQ(fields.at("tags").list_value().values(2).kind_case(),
            google::protobuf::Value::kNullValue);
  EXPECT_EQ(proto.error(), "");
  EXPECT_EQ(proto.duration_ms(), 12.25);
  EXPECT_EQ(proto.retry_count(), 2u);
  EXPECT_EQ(proto.priority(), 1.5);
  EXPECT_EQ(proto.worker_id(), "w-1");
  ASSERT_TRUE(proto.has_started_at());
  EXPECT_EQ(proto.started_at().seconds(), kMay1Noon2024);
  EXPECT_EQ(proto.started_at().nanos(), 500);
  ASSERT_TRUE(proto.has_finished_at());
  EXPECT_EQ(proto.finished_at().seconds(), kMay1Noon2024 + 1);
  EXPECT_EQ(proto.finished_at().nanos(), 250000000);
  EXPECT_EQ(proto.executor(), "http");
}

TEST_F(TaskResultToProtoTest, ASuccessWithANullOutputCarriesAnExplicitNull) {
  core::TaskResult result = Succeeded();
  result.output = nullptr;
  v1::TaskResult proto;
  TaskResultToProto(result, &proto);
  ASSERT_TRUE(proto.has_output());
  EXPECT_EQ(proto.output().kind_case(), google::protobuf::Value::kNullValue);
}

TEST_F(TaskResultToProtoTest, AFailureWithoutOutputHasNoOutputButKeepsOneItHas) {
  core::TaskResult result = Succeeded();
  result.state = core::TaskState::kFailed;
  result.error = "exit 1";
  result.output = nullptr;
  v1::TaskResult proto;
  TaskResultToProto(result, &proto);
  EXPECT_FALSE(proto.success());
  EXPECT_EQ(proto.state(), v1::TASK_STATE_FAILED);
  EXPECT_FALSE(proto.has_output());
  EXPECT_EQ(proto.error(), "exit 1");

  result.output = boost::json::parse(R"({"exit_code": 1})");
  proto.Clear();
  TaskResultToProto(result, &proto);
  ASSERT_TRUE(proto.has_output());
  EXPECT_EQ(proto.output().struct_value().fields().at("exit_code").number_value(), 1);
}

TEST_F(TaskResultToProtoTest, ATaskThatNeverRanHasNoStartButAFinish) {
  core::TaskResult result;
  result.task_id = &id_;
  result.state = core::TaskState::kSkipped;
  result.finished_at = At(kMay1Noon2024);
  v1::TaskResult proto;
  TaskResultToProto(result, &proto);
  EXPECT_EQ(proto.state(), v1::TASK_STATE_SKIPPED);
  EXPECT_FALSE(proto.has_started_at());
  ASSERT_TRUE(proto.has_finished_at());
  EXPECT_EQ(proto.finished_at().seconds(), kMay1Noon2024);
  EXPECT_EQ(proto.executor(), "") << "no executor pointer: left unset";
  EXPECT_FALSE(proto.has_output());
}

using BatchSummaryToProtoTest = TaskResultToProtoTest;  // for its results

TEST_F(BatchSummaryToProtoTest, CarriesResultsInOrderOnlyWhenAsked) {
  core::TaskResult first = Succeeded();
  const std::string second_id = "report";
  core::TaskResult second;
  second.task_id = &second_id;
  second.state = core::TaskState::kTimedOut;
  core::BatchSummary summary;
  summary.batch_id = "b7";
  summary.state = core::BatchState::kFailed;
  summary.results = {&first, &second};
  summary.total_duration_ms = 2000.5;
  summary.total_tasks = 2;
  summary.successful_count = 1;
  summary.failed_count = 1;
  summary.retried_count = 1;
  summary.throughput_per_second = 0.75;
  summary.success_rate = 0.5;
  summary.avg_duration_ms = 6.125;
  summary.cancel_reason = "none given";

  v1::BatchSummary with;
  BatchSummaryToProto(summary, true, &with);
  ASSERT_EQ(with.results_size(), 2);
  EXPECT_EQ(with.results(0).task_id(), "fetch");
  EXPECT_EQ(with.results(1).task_id(), "report");
  EXPECT_EQ(with.results(1).state(), v1::TASK_STATE_TIMED_OUT);

  v1::BatchSummary without;
  BatchSummaryToProto(summary, false, &without);
  EXPECT_EQ(without.results_size(), 0);
  for (const v1::BatchSummary* proto : {&with, &without}) {
    EXPECT_EQ(proto->batch_id(), "b7");
    EXPECT_EQ(proto->state(), v1::BATCH_STATE_FAILED);
    EXPECT_EQ(proto->total_duration_ms(), 2000.5);
    EXPECT_EQ(proto->total_tasks(), 2u);
    EXPECT_EQ(proto->successful_count(), 1u);
    EXPECT_EQ(proto->failed_count(), 1u);
    EXPECT_EQ(proto->retried_count(), 1u);
    EXPECT_EQ(proto->throughput_per_second(), 0.75);
    EXPECT_EQ(proto->success_rate(), 0.5);
    EXPECT_EQ(proto->avg_duration_ms(), 6.125);
    EXPECT_EQ(proto->cancel_reason(), "none given");
  }
}

TEST(BatchProgressToProtoTest, CopiesCountsTimeAndLabels) {
  core::BatchProgress progress;
  progress.batch_id = "b2";
  progress.state = core::BatchState::kRunning;
  progress.total_tasks = 10;
  progress.completed_tasks = 4;
  progress.successful_tasks = 3;
  progress.failed_tasks = 1;
  progress.running_tasks = 2;
  progress.pending_tasks = 4;
  progress.progress_percentage = 40;
  progress.estimated_remaining_ms = 1500;
  progress.created_at = At(kMay1Noon2024, 7000);
  progress.labels = {{"env", "prod"}, {"team", "infra"}};
  v1::BatchProgress proto;
  BatchProgressToProto(progress, &proto);
  EXPECT_EQ(proto.batch_id(), "b2");
  EXPECT_EQ(proto.state(), v1::BATCH_STATE_RUNNING);
  EXPECT_EQ(proto.total_tasks(), 10u);
  EXPECT_EQ(proto.completed_tasks(), 4u);
  EXPECT_EQ(proto.successful_tasks(), 3u);
  EXPECT_EQ(proto.failed_tasks(), 1u);
  EXPECT_EQ(proto.running_tasks(), 2u);
  EXPECT_EQ(proto.pending_tasks(), 4u);
  EXPECT_EQ(proto.progress_percentage(), 40);
  EXPECT_EQ(proto.estimated_remaining_ms(), 1500);
  EXPECT_EQ(proto.created_at().seconds(), kMay1Noon2024);
  EXPECT_EQ(proto.created_at().nanos(), 7000);
  EXPECT_THAT(proto.labels(), UnorderedElementsAre(Pair("env", "prod"), Pair("team", "infra")));
}

TEST(BatchProgressToProtoTest, CopiesThrottledTasksAndTheirLimitWaits) {
  core::BatchProgress progress;
  progress.pending_tasks = 7;
  progress.throttled_tasks = 5;
  progress.limit_waits = {{"db", 2, "waiting for limit 'db' (concurrency)"},
                          {"openai", 3, "waiting for limit 'openai' (rate)"}};
  v1::BatchProgress proto;
  BatchProgressToProto(progress, &proto);
  EXPECT_EQ(proto.throttled_tasks(), 5u);
  ASSERT_EQ(proto.limit_waits_size(), 2);
  EXPECT_EQ(proto.limit_waits(0).key(), "db");
  EXPECT_EQ(proto.limit_waits(0).tasks(), 2u);
  EXPECT_EQ(proto.limit_waits(0).reason(), "waiting for limit 'db' (concurrency)");
  EXPECT_EQ(proto.limit_waits(1).key(), "openai");
  EXPECT_EQ(proto.limit_waits(1).tasks(), 3u);
  EXPECT_EQ(proto.limit_waits(1).reason(), "waiting for limit 'openai' (rate)");
}

TEST(BatchProgressToProtoTest, NoThrottlingNoWaits) {
  v1::BatchProgress proto;
  BatchProgressToProto(core::BatchProgress{}, &proto);
  EXPECT_EQ(proto.throttled_tasks(), 0u);
  EXPECT_EQ(proto.limit_waits_size(), 0);
}

TEST(LayerIdsToProtoTest, OneLayerPerGroupInOrder) {
  const std::vector<std::vector<std::string_view>> layers = {{"a"}, {"b", "c"}, {}, {"d"}};
  google::protobuf::RepeatedPtrField<v1::Layer> out;
  LayerIdsToProto(layers, &out);
  ASSERT_EQ(out.size(), 4);
  EXPECT_THAT(out[0].task_ids(), ElementsAre("a"));
  EXPECT_THAT(out[1].task_ids(), ElementsAre("b", "c"));
  EXPECT_THAT(out[2].task_ids(), ElementsAre());
  EXPECT_THAT(out[3].task_ids(), ElementsAre("d"));

  google::protobuf::RepeatedPtrField<v1::Layer> none;
  LayerIdsToProto({}, &none);
  EXPECT_EQ(none.size(), 0);
}

}  // namespace
}  // namespace batchd::server
