// batchctl's batch commands against a scripted in-process server (tests/testing): the request
// each sends, what it prints (the formatter's text for the answer) and its exit code.
#include "client/batchctl/batch_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "client/format/error_format.h"
#include "client/format/listing_format.h"
#include "client/format/progress_format.h"
#include "client/format/result_table.h"
#include "tests/testing/fake_batch_service.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kBatchJson[] =
    R"({"tasks": [{"id": "a", "executor": "echo"}, {"id": "b", "executor": "echo",
        "dependencies": ["a"]}]})";

v1::BatchSummary Summary(v1::BatchState state, uint32_t failed = 0) {
  v1::BatchSummary summary;
  summary.set_batch_id("b-1");
  summary.set_state(state);
  summary.set_total_tasks(2);
  summary.set_successful_count(2 - failed);
  summary.set_failed_count(failed);
  for (const char* id : {"a", "b"}) {
    v1::TaskResult* result = summary.add_results();
    result->set_task_id(id);
    const bool ok = failed == 0 || std::string(id) == "a";
    result->set_success(ok);
    result->set_state(ok ? v1::TASK_STATE_SUCCEEDED : v1::TASK_STATE_FAILED);
  }
  return summary;
}

v1::BatchProgress Progress(uint32_t completed) {
  v1::BatchProgress progress;
  progress.set_batch_id("b-1");
  progress.set_state(completed == 2 ? v1::BATCH_STATE_SUCCEEDED : v1::BATCH_STATE_RUNNING);
  progress.set_total_tasks(2);
  progress.set_completed_tasks(completed);
  progress.set_successful_tasks(completed);
  return progress;
}

class BatchCommandsTest : public ::testing::Test {
 protected:
  // Runs `command` with argv `args` (after "batchctl"), stdin `in`, and returns its exit code.
  int Run(int (*command)(const CommandContext&), const std::vector<std::string>& args,
          const std::string& in = "", bool tty = false) {
    absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, "127.0.0.1:50051");
    EXPECT_TRUE(command_line.ok()) << command_line.status();
    if (!command_line.ok()) return -1;
    const BatchClient client(server_.channel(), CallTimeouts{});
    const ChannelOptions channel;
    std::istringstream stdin_stream(in);
    const CommandContext context{*command_line, client, channel, stdin_stream,
                                 out_,          err_,   tty,     100};
    return command(context);
  }
  std::vector<std::string> calls() const { return server_.log.calls(); }

  batchd::testing::FakeBatchServer server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(BatchCommandsTest, RunProcessesTheBatchFileAndPrintsTheResultTable) {
  server_.batch.script()->process.mutable_summary()->CopyFrom(Summary(v1::BATCH_STATE_SUCCEEDED));
  EXPECT_EQ(Run(RunCommand, {"run", "-"}, kBatchJson), kExitOk);
  EXPECT_EQ(out_.str(), FormatResultTable(Summary(v1::BATCH_STATE_SUCCEEDED)));
  EXPECT_EQ(err_.str(), "");
  ASSERT_EQ(calls().size(), 1u);
  EXPECT_THAT(calls()[0], StartsWith("ProcessBatch tasks { id: \"a\" executor: \"echo\" }"));
  EXPECT_THAT(calls()[0], HasSubstr("tasks { id: \"b\" executor: \"echo\" dependencies: \"a\" }"));
}

TEST_F(BatchCommandsTest, RunFailsWhenATaskFailedOrTheBatchDidNotSucceed) {
  server_.batch.script()->process.mutable_summary()->CopyFrom(
      Summary(v1::BATCH_STATE_SUCCEEDED, /*failed=*/1));
  EXPECT_EQ(Run(RunCommand, {"run", "-"}, kBatchJson), kExitFailure);
  server_.batch.script()->process.mutable_summary()->CopyFrom(Summary(v1::BATCH_STATE_CANCELLED));
  EXPECT_EQ(Run(RunCommand, {"run", "-"}, kBatchJson), kExitFailure);
  v1::BatchSummary unsuccessful_result = Summary(v1::BATCH_STATE_SUCCEEDED);
  unsuccessful_result.mutable_results(1)->set_success(false);
  server_.batch.script()->process.mutable_summary()->CopyFrom(unsuccessful_result);
  EXPECT_EQ(Run(RunCommand, {"run", "-"}, kBatchJson), kExitFailure);
}

TEST_F(BatchCommandsTest, RunReportsAnUnreadableBatchFileWithoutCallingTheDaemon) {
  EXPECT_EQ(Run(RunCommand, {"run", "-"}, "{not json"), kExitFailure);
  EXPECT_THAT(err_.str(), StartsWith("batchctl: "));
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(calls(), IsEmpty());
}

TEST_F(BatchCommandsTest, RunReportsTheRpcErrorWithAHintWhenTheDaemonIsUnreachable) {
  server_.batch.script()->status =
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
  EXPECT_EQ(Run(RunCommand, {"run", "-", "--addr", "10.0.0.1:7000"}, kBatchJson), kExitFailure);
  EXPECT_EQ(err_.str(), FormatRpcError(server_.batch.script()->status) +
                            "  (is batchd running at 10.0.0.1:7000?)\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(BatchCommandsTest, SubmitPrintsTheBatchIdAndReturns) {
  server_.batch.script()->submit.set_batch_id("b-1");
  EXPECT_EQ(Run(SubmitCommand, {"submit", "-"}, kBatchJson), kExitOk);
  EXPECT_EQ(out_.str(), "b-1\n");
  ASSERT_EQ(calls().size(), 1u);
  EXPECT_THAT(calls()[0], StartsWith("SubmitBatch tasks { id: \"a\""));
}

TEST_F(BatchCommandsTest, SubmitWatchPrintsEveryUpdateThenTheResults) {
  server_.batch.script()->submit.set_batch_id("b-1");
  for (uint32_t completed : {0u, 1u, 2u}) {
    server_.batch.script()->watch.emplace_back().mutable_progress()->CopyFrom(Progress(completed));
  }
  server_.batch.script()->batch.mutable_summary()->CopyFrom(Summary(v1::BATCH_STATE_SUCCEEDED));
  EXPECT_EQ(Run(SubmitCommand, {"submit", "-", "--watch"}, kBatchJson), kExitOk);
  EXPECT_EQ(out_.str(), "b-1\n" + FormatProgressLine(Progress(0)) + "\n" +
                            FormatProgressLine(Progress(1)) + "\n" +
                            FormatProgressLine(Progress(2)) + "\n" +
                            FormatResultTable(Summary(v1::BATCH_STATE_SUCCEEDED)));
  EXPECT_THAT(calls(), ElementsAre(StartsWith("SubmitBatch "), "WatchProgress batch_id: \"b-1\"",
                                   "GetBatch batch_id: \"b-1\""));
}

TEST_F(BatchCommandsTest, SubmitWatchOnATerminalRedrawsOneProgressBar) {
  server_.batch.script()->submit.set_batch_id("b-1");
  server_.batch.script()->watch.emplace_back().mutable_progress()->CopyFrom(Progress(1));
  server_.batch.script()->watch.emplace_back().mutable_progress()->CopyFrom(Progress(2));
  server_.batch.script()->batch.mutable_summary()->CopyFrom(
      Summary(v1::BATCH_STATE_FAILED, /*failed=*/1));
  EXPECT_EQ(Run(SubmitCommand, {"submit", "-", "--watch"}, kBatchJson, /*tty=*/true), kExitFailure);
  const std::string out = out_.str();
  // Two redraws, each from the line's start and clearing what the last one left, then a newline.
  EXPECT_THAT(out, StartsWith("b-1\n\r"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\r'), 2);
  EXPECT_THAT(out, HasSubstr("\033[K\r"));
  EXPECT_THAT(out, HasSubstr("\033[K\n" + FormatResultTable(Summary(v1::BATCH_STATE_FAILED, 1))));
}

TEST_F(BatchCommandsTest, StatusPrintsTheProgressDetails) {
  server_.batch.script()->progress.mutable_progress()->CopyFrom(Progress(1));
  EXPECT_EQ(Run(StatusCommand, {"status", "b-1"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatProgressDetails(Progress(1)));
  EXPECT_THAT(calls(), ElementsAre("GetProgress batch_id: \"b-1\""));
}

TEST_F(BatchCommandsTest, StatusOfAnUnknownBatchIsTheRpcError) {
  server_.batch.script()->status = grpc::Status(grpc::StatusCode::NOT_FOUND, "Batch 'x' not found");
  EXPECT_EQ(Run(StatusCommand, {"status", "x"}), kExitFailure);
  EXPECT_EQ(err_.str(), FormatRpcError(server_.batch.script()->status));  // no hint for NOT_FOUND
}

TEST_F(BatchCommandsTest, ResultsOfARunningBatchSucceedUntilATaskFails) {
  server_.batch.script()->batch.mutable_summary()->CopyFrom(Summary(v1::BATCH_STATE_RUNNING));
  EXPECT_EQ(Run(ResultsCommand, {"results", "b-1"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatResultTable(Summary(v1::BATCH_STATE_RUNNING)));
  server_.batch.script()->batch.mutable_summary()->CopyFrom(
      Summary(v1::BATCH_STATE_RUNNING, /*failed=*/1));
  EXPECT_EQ(Run(ResultsCommand, {"results", "b-1"}), kExitFailure);
  server_.batch.script()->batch.mutable_summary()->CopyFrom(Summary(v1::BATCH_STATE_FAILED));
  EXPECT_EQ(Run(ResultsCommand, {"results", "b-1"}), kExitFailure);
}

TEST_F(BatchCommandsTest, ResultsFollowPrintsEachResultThenTheSummary) {
  const v1::BatchSummary summary = Summary(v1::BATCH_STATE_SUCCEEDED);
  v1::StreamResultsResponse first;
  first.add_results()->CopyFrom(summary.results(0));
  first.add_results()->CopyFrom(summary.results(1));
  server_.batch.script()->results.push_back(first);
  server_.batch.script()->results.emplace_back().mutable_summary()->CopyFrom(summary);
  EXPECT_EQ(Run(ResultsCommand, {"results", "b-1", "--follow"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatResultLine(summary.results(0)) + "\n" +
                            FormatResultLine(summary.results(1)) + "\n" +
                            FormatSummaryLine(summary) + "\n");
  EXPECT_THAT(calls(), ElementsAre("StreamResults batch_id: \"b-1\""));
}

TEST_F(BatchCommandsTest, ResultsFollowWithoutASummaryIsDataLoss) {
  server_.batch.script()->results.emplace_back().add_results()->set_task_id("a");
  EXPECT_EQ(Run(ResultsCommand, {"results", "b-1", "--follow"}), kExitFailure);
  EXPECT_EQ(err_.str(), "batchctl: result stream ended without a summary\n");
}

TEST_F(BatchCommandsTest, CancelSendsTheReasonAndPrintsTheProgress) {
  server_.batch.script()->cancel.mutable_progress()->CopyFrom(Progress(1));
  EXPECT_EQ(Run(CancelCommand, {"cancel", "b-1", "--reason", "not needed"}), kExitOk);
  EXPECT_EQ(out_.str(), "batch b-1: " + FormatProgressLine(Progress(1)) + "\n");
  EXPECT_THAT(calls(), ElementsAre("CancelBatch batch_id: \"b-1\" reason: \"not needed\""));
}

TEST_F(BatchCommandsTest, ListPrintsTheBatchList) {
  server_.batch.script()->list.add_batches()->CopyFrom(Progress(2));
  EXPECT_EQ(Run(ListCommand, {"list"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatBatchList(server_.batch.script()->list));
  EXPECT_THAT(calls(), ElementsAre("ListBatches "));
}

TEST_F(BatchCommandsTest, ListSendsFiltersAndPagingAndSaysHowToGetTheNextPage) {
  server_.batch.script()->list.add_batches()->CopyFrom(Progress(2));
  server_.batch.script()->list.set_next_page_token("TOKEN");
  server_.batch.script()->list.set_total_size(7);
  EXPECT_EQ(Run(ListCommand, {"list", "--state", "running", "--selector", "env=prod", "--page-size",
                              "1", "--page-token", "T0"}),
            kExitOk);
  EXPECT_EQ(out_.str(), FormatBatchList(server_.batch.script()->list) +
                            "(1 of 7; next page: --page-token TOKEN)\n");
  EXPECT_THAT(calls(), ElementsAre("ListBatches states: BATCH_STATE_RUNNING label_selector: "
                                   "\"env=prod\" page_size: 1 page_token: \"T0\""));
}

TEST_F(BatchCommandsTest, ListRefusesAnUnknownStateWithoutCallingTheDaemon) {
  EXPECT_EQ(Run(ListCommand, {"list", "--state", "done"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("unknown batch state 'done' for --state"));
  EXPECT_THAT(calls(), ElementsAre());
}

TEST_F(BatchCommandsTest, TasksListsTheBatchsTasks) {
  v1::TaskStatus* t = server_.batch.script()->tasks.add_tasks();
  t->set_task_id("parse");
  t->set_state(v1::TASK_STATE_PENDING);
  t->set_waiting_reason("waiting for 1 dependency: fetch");
  EXPECT_EQ(Run(TasksCommand, {"tasks", "b-1", "--state", "pending"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatTaskList(server_.batch.script()->tasks));
  EXPECT_THAT(calls(), ElementsAre("ListTasks batch_id: \"b-1\" states: TASK_STATE_PENDING"));
}

TEST_F(BatchCommandsTest, AnUnauthenticatedCallHintsAtTheToken) {
  server_.batch.script()->status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no token");
  EXPECT_EQ(Run(ListCommand, {"list"}), kExitFailure);
  EXPECT_EQ(err_.str(),
            FormatRpcError(server_.batch.script()->status) +
                "  (batchd wants a bearer token: --token-file or $BATCHD_TOKEN_FILE)\n");
}

}  // namespace
}  // namespace batchd::client
