// Tests for batchd_client's pure parts: formatters, the batch-file loader and address checks.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/format/error_format.h"
#include "client/format/listing_format.h"
#include "client/format/progress_format.h"
#include "client/format/result_table.h"
#include "client/format/state_names.h"
#include "client/format/text_table.h"
#include "client/format/units_format.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kMay1Noon2024 = 1714564800;

v1::BatchProgress Progress(v1::BatchState state, uint32_t total, uint32_t completed) {
  v1::BatchProgress progress;
  progress.set_state(state);
  progress.set_total_tasks(total);
  progress.set_completed_tasks(completed);
  return progress;
}

google::protobuf::Value JsonValue(const std::string& json) {
  google::protobuf::Value value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &value).ok()) << json;
  return value;
}

// --- progress ----------------------------------------------------------------------------

TEST(RenderProgressBarTest, UsesDaemonEstimateForEta) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 100, 70);
  progress.set_estimated_remaining_ms(3200);
  EXPECT_EQ(RenderProgressBar(progress, 10, absl::Milliseconds(500)),
            "[#######...]  70/100  70.0%  140 tasks/s  ETA 3.2s");
}

TEST(RenderProgressBarTest, ExtrapolatesEtaFromRateWithoutEstimate) {
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_RUNNING, 100, 25), 4, absl::Seconds(5)),
            "[#...]  25/100  25.0%  5.0 tasks/s  ETA 15.0s");
}

TEST(RenderProgressBarTest, UnknownEtaBeforeAnyTaskCompletes) {
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_PENDING, 10, 0), 5, absl::ZeroDuration()),
            "[.....]  0/10  0.0%  0.0 tasks/s  ETA --");
}

TEST(RenderProgressBarTest, FinishedBatchShowsStateAndFailures) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_FAILED, 10, 10);
  progress.set_failed_tasks(2);
  EXPECT_EQ(RenderProgressBar(progress, 5, absl::Seconds(2)),
            "[#####]  10/10  100.0%  5.0 tasks/s  FAILED  2 failed");
}

TEST(RenderProgressBarTest, EmptyBatchAndOvercountAreSafe) {
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_PENDING, 0, 0), 3, absl::Seconds(1)),
            "[...]  0/0  -  0.0 tasks/s  ETA --");
  EXPECT_THAT(RenderProgressBar(Progress(v1::BATCH_STATE_RUNNING, 4, 9), 4, absl::Seconds(1)),
              StartsWith("[####]  4/4  100.0%"));
  EXPECT_EQ(RenderProgressBar(Progress(v1::BATCH_STATE_RUNNING, 4, 0), 0, absl::Seconds(1)),
            "[.]  0/4  0.0%  0.0 tasks/s  ETA --");
}

TEST(FormatProgressLineTest, ListsCounts) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 100, 70);
  progress.set_successful_tasks(68);
  progress.set_failed_tasks(2);
  progress.set_running_tasks(5);
  progress.set_pending_tasks(25);
  EXPECT_EQ(FormatProgressLine(progress),
            "RUNNING 70/100 (70.0%) succeeded 68 failed 2 running 5 pending 25");
}

TEST(FormatProgressDetailsTest, AlignsKeysAndSortsLabels) {
  v1::BatchProgress progress = Progress(v1::BATCH_STATE_RUNNING, 100, 70);
  progress.set_batch_id("b1");
  progress.set_successful_tasks(68);
  progress.set_failed_tasks(2);
  progress.set_running_tasks(5);
  progress.set_pending_tasks(25);
  progress.set_progress_percentage(70);
  progress.set_estimated_remaining_ms(3200);
  progress.mutable_created_at()->set_seconds(kMay1Noon2024);
  (*progress.mutable_labels())["team"] = "infra";
  (*progress.mutable_labels())["env"] = "prod";
  EXPECT_EQ(FormatProgressDetails(progress),
            "batch:      b1\n"
            "state:      RUNNING\n"
            "total:      100\n"
            "completed:  70\n"
            "successful: 68\n"
            "failed:     2\n"
            "running:    5\n"
            "pending:    25\n"
            "progress:   70.0%\n"
            "eta:        3.2s\n"
            "created:    2024-05-01T12:00:00Z\n"
            "label env:  prod\n"
            "label team: infra\n");
}

// --- results -----------------------------------------------------------------------------

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

// --- listings ----------------------------------------------------------------------------

TEST(FormatExecutorTableTest, ShowsUnboundedCapacityAsDash) {
  v1::ListExecutorsResponse response;
  const auto add = [&](const char* name, const char* kind, uint32_t workers, uint32_t capacity) {
    v1::ExecutorInfo* executor = response.add_executors();
    executor->set_name(name);
    executor->set_kind(kind);
    executor->set_workers(workers);
    executor->set_capacity(capacity);
  };
  add("echo", "builtin", 0, 0);
  add("sleep", "builtin", 0, 8);
  add("gpu", "worker", 2, 4);
  EXPECT_EQ(FormatExecutorTable(response),
            "NAME   KIND     WORKERS  CAPACITY\n"
            "echo   builtin        0         -\n"
            "sleep  builtin        0         8\n"
            "gpu    worker         2         4\n");
}

TEST(FormatBatchListTest, ShowsDoneAndCreated) {
  v1::ListBatchesResponse response;
  v1::BatchProgress* running = response.add_batches();
  *running = Progress(v1::BATCH_STATE_RUNNING, 4, 3);
  running->set_batch_id("b2");
  running->mutable_created_at()->set_seconds(kMay1Noon2024);
  v1::BatchProgress* done = response.add_batches();
  *done = Progress(v1::BATCH_STATE_SUCCEEDED, 12, 12);
  done->set_batch_id("b1");
  EXPECT_EQ(FormatBatchList(response),
            "ID  STATE       DONE  CREATED\n"
            "b2  RUNNING      3/4  2024-05-01T12:00:00Z\n"
            "b1  SUCCEEDED  12/12  -\n");
}

TEST(FormatExecutionOrderTest, PrintsLayersAndCriticalPath) {
  v1::ResolveExecutionOrderResponse response;
  response.add_layers()->add_task_ids("a");
  v1::Layer* middle = response.add_layers();
  middle->add_task_ids("b");
  middle->add_task_ids("c");
  response.add_layers()->add_task_ids("d");
  for (const char* id : {"a", "b", "d"}) response.add_critical_path(id);
  EXPECT_EQ(FormatExecutionOrder(response),
            "layer 0: a\nlayer 1: b c\nlayer 2: d\ncritical path: a -> b -> d\n");
  EXPECT_EQ(FormatExecutionOrder({}), "critical path: (none)\n");
}

TEST(FormatCriticalPathTest, AbbreviatesLongPaths) {
  google::protobuf::RepeatedPtrField<std::string> path;
  for (int i = 0; i < 100; ++i) *path.Add() = absl::StrCat("t", i);
  const std::string text = FormatCriticalPath(path);
  EXPECT_TRUE(absl::StartsWith(text, "t0 -> t1 -> ")) << text;
  EXPECT_THAT(text, ::testing::HasSubstr("t19 -> ... (70 more) -> t90 -> "));
  EXPECT_TRUE(absl::EndsWith(text, "t98 -> t99")) << text;
}

// --- text, units, states -----------------------------------------------------------------

TEST(TextTableTest, CountsCodePointsAndPadsMissingCells) {
  TextTable table({"A", "B"}, {TextTable::Align::kRight});
  table.AddRow({"\xC3\xA9\xC3\xA9", "x"});  // "éé": 4 bytes, 2 columns
  table.AddRow({"abc"});
  EXPECT_EQ(table.Render(), "  A  B\n \xC3\xA9\xC3\xA9  x\nabc\n");
}

TEST(TruncateTextTest, CutsAtCodePointBoundary) {
  EXPECT_EQ(TruncateText("short", 5), "short");
  EXPECT_EQ(TruncateText("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 4), "\xC3\xA9...");
  EXPECT_EQ(DisplayWidth("\xC3\xA9..."), 4U);
}

TEST(UnitsFormatTest, FormatsDurationsRatesAndTimestamps) {
  EXPECT_EQ(FormatEta(absl::Milliseconds(3200)), "3.2s");
  EXPECT_EQ(FormatEta(absl::Seconds(245)), "4m05s");
  EXPECT_EQ(FormatEta(absl::Hours(2) + absl::Minutes(3)), "2h03m");
  EXPECT_EQ(FormatEta(absl::Seconds(-1)), "0.0s");
  EXPECT_EQ(FormatMillis(412.34), "412.3 ms");
  EXPECT_EQ(FormatMillis(1520), "1.52 s");
  EXPECT_EQ(FormatRate(1234.4), "1234 tasks/s");
  EXPECT_EQ(FormatRate(2.5), "2.5 tasks/s");
  EXPECT_EQ(FormatTimestamp({}), "-");
  EXPECT_EQ(FormatPercent(1, 3), "33.3%");
}

TEST(StateNamesTest, StripsPrefixesAndNamesUnknownValues) {
  EXPECT_EQ(TaskStateName(v1::TASK_STATE_RETRY_WAIT), "RETRY_WAIT");
  EXPECT_EQ(BatchStateName(v1::BATCH_STATE_CANCELLED), "CANCELLED");
  EXPECT_EQ(TaskStateName(static_cast<v1::TaskState>(42)), "UNKNOWN(42)");
  EXPECT_TRUE(IsFinal(v1::BATCH_STATE_FAILED));
  EXPECT_FALSE(IsFinal(v1::BATCH_STATE_RUNNING));
}

// --- errors ------------------------------------------------------------------------------

TEST(FormatRpcErrorTest, ListsBadRequestFieldViolations) {
  google::rpc::BadRequest bad_request;
  auto* duplicate = bad_request.add_field_violations();
  duplicate->set_field("tasks[1].id");
  duplicate->set_description("duplicate task id \"a\"");
  auto* concurrency = bad_request.add_field_violations();
  concurrency->set_field("options.max_concurrent");
  concurrency->set_description("must be positive");
  google::rpc::Status details;
  details.set_code(3);
  details.set_message("duplicate task id \"a\" (and 1 more)");
  details.add_details()->PackFrom(google::rpc::Status());  // other detail types are skipped
  details.add_details()->PackFrom(bad_request);
  const grpc::Status status(grpc::StatusCode::INVALID_ARGUMENT, details.message(),
                            details.SerializeAsString());
  EXPECT_EQ(FormatRpcError(status),
            "ERROR INVALID_ARGUMENT: duplicate task id \"a\" (and 1 more)\n"
            "  tasks[1].id: duplicate task id \"a\"\n"
            "  options.max_concurrent: must be positive\n");
}

TEST(FormatRpcErrorTest, PlainStatusAndUndecodableDetails) {
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")),
            "ERROR UNIMPLEMENTED\n");
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch b9", "\xff\xff")),
            "ERROR NOT_FOUND: no batch b9\n");
  // 20 has no name but is inside the enum's range (-32..31): anything outside it cannot be
  // held by a grpc::StatusCode at all (UBSan's enum check).
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(20)), "CODE(20)");
}

}  // namespace
}  // namespace batchd::client
