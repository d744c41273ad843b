// batchctl as its users run it: the real binary against a real batchd, output and exit codes
// checked. stdout is a pipe here, so batchctl prints plain lines (no progress bar).
#include <arpa/inet.h>
#include <grpcpp/client_context.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"

#ifndef BATCHCTL_BINARY
#error "BATCHCTL_BINARY must name the batchctl binary (see tests/integration/CMakeLists.txt)"
#endif
#ifndef BATCHD_SOURCE_DIR
#error "BATCHD_SOURCE_DIR must name the source tree (see tests/integration/CMakeLists.txt)"
#endif

namespace batchd {
namespace {

using ::batchd::testing::CommandResult;
using ::batchd::testing::DaemonProcess;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kCommandTimeout = absl::Seconds(60);
constexpr std::chrono::seconds kCallTimeout{60};

const std::string& DiamondFile() {
  static const std::string* const path =
      new std::string(absl::StrCat(BATCHD_SOURCE_DIR, "/client/examples/diamond.json"));
  return *path;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The first line starting with `prefix`, or "" when there is none.
std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  for (const std::string& line : Lines(text)) {
    if (absl::StartsWith(line, prefix)) return line;
  }
  return "";
}

// A loopback port nothing listens on: bound to get a free number, then closed.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

class BatchctlTest : public testing::DaemonTestBase {
 protected:
  void TearDown() override {
    for (const std::string& path : temp_files_) std::remove(path.c_str());
    DaemonTestBase::TearDown();
  }

  // Runs `batchctl --addr <daemon> args...`; a failed run (timeout, spawn) fails the test.
  CommandResult Batchctl(const std::vector<std::string>& args) {
    return BatchctlAt(daemon_->address(), args);
  }

  CommandResult BatchctlAt(const std::string& address, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BATCHCTL_BINARY, "--addr", address};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<CommandResult> result = testing::RunCommand(argv, kCommandTimeout);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : CommandResult{};
  }

  std::string WriteBatchFile(const std::string& json) {
    const std::string path = absl::StrCat(::testing::TempDir(), "batchctl_test_", getpid(), "_",
                                          temp_files_.size(), ".json");
    std::ofstream(path) << json;
    temp_files_.push_back(path);
    return path;
  }

  // A finished batch of two echo tasks, made through the API; its id ("" on failure).
  std::string FinishedBatch() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchRequest request;
    for (const char* id : {"first", "second"}) {
      v1::Task* task = request.add_tasks();
      task->set_id(id);
      task->set_executor("echo");
      task->mutable_input()->set_string_value(absl::StrCat("hello from ", id));
    }
    v1::ProcessBatchResponse response;
    const grpc::Status status = batches_->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    EXPECT_EQ(response.summary().state(), v1::BATCH_STATE_SUCCEEDED);
    return response.batch_id();
  }

  std::vector<std::string> temp_files_;
};

TEST_F(BatchctlTest, RunDiamondExitsZeroAndPrintsEveryTaskAndTheSummary) {
  const CommandResult result = Batchctl({"run", DiamondFile()});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  for (const char* id : {"a", "b", "c", "d"}) {
    EXPECT_THAT(LineStartingWith(result.stdout_text, absl::StrCat(id, " ")), HasSubstr("SUCCEEDED"))
        << id << " in:\n"
        << result.stdout_text;
  }
  EXPECT_THAT(LineStartingWith(result.stdout_text, "batch "),
              HasSubstr(" SUCCEEDED: total 4, successful 4, failed 0, retried 0"))
      << result.stdout_text;
}

TEST_F(BatchctlTest, RunWithAFailingTaskExitsOne) {
  const std::string path = WriteBatchFile(R"({
    "tasks": [
      {"id": "ok", "executor": "echo", "input": 1},
      {"id": "broken", "executor": "fail", "input": {"error": "disk on fire"},
       "retryPolicy": {"kind": "RETRY_KIND_NONE"}}
    ]})");
  const CommandResult result = Batchctl({"run", path});
  EXPECT_EQ(result.exit_code, 1) << result.stdout_text << result.stderr_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "broken "),
              AllOf(HasSubstr("FAILED"), HasSubstr("disk on fire")))
      << result.stdout_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "ok "), HasSubstr("SUCCEEDED"))
      << result.stdout_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "batch "),
              HasSubstr(" FAILED: total 2, successful 1, failed 1"))
      << result.stdout_text;
}

TEST_F(BatchctlTest, LayersPrintsTheLayersAndCriticalPath) {
  const CommandResult result = Batchctl({"layers", DiamondFile()});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_text,
            "layer 0: a\n"
            "layer 1: b c\n"
            "layer 2: d\n"
            "critical path: a -> b -> d\n");
}

TEST_F(BatchctlTest, HealthExitsZeroAgainstTheDaemon) {
  const CommandResult result = Batchctl({"health"});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, "SERVING\n");
}

TEST_F(BatchctlTest, HealthFailsWhenNothingListens) {
  const int port = UnusedPort();
  ASSERT_GT(port, 0);
  const CommandResult result =
      BatchctlAt(absl::StrCat("127.0.0.1:", port), {"health", "--timeout", "3s"});
  EXPECT_NE(result.exit_code, 0) << result.stdout_text;
  EXPECT_THAT(result.stderr_text, StartsWith("ERROR "));
  EXPECT_EQ(result.stdout_text, "");
}

TEST_F(BatchctlTest, SubmitWatchPrintsPlainProgressLinesThenTheResults) {
  const CommandResult result = Batchctl({"submit", DiamondFile(), "--watch"});
  EXPECT_EQ(result.exit_code, 0) << result.stdout_text << result.stderr_text;
  const std::vector<std::string> lines = Lines(result.stdout_text);
  ASSERT_FALSE(lines.empty());
  const std::string& batch_id = lines.front();
  EXPECT_FALSE(batch_id.empty());
  EXPECT_THAT(batch_id, Not(HasSubstr(" ")));
  // Not a terminal: no carriage returns or escape sequences, one progress line per update.
  EXPECT_THAT(result.stdout_text, Not(HasSubstr("\r")));
  EXPECT_THAT(result.stdout_text, Not(HasSubstr("\033")));
  EXPECT_THAT(lines, Contains(StartsWith("SUCCEEDED 4/4 (100.0%) succeeded 4 failed 0")))
      << result.stdout_text;
  for (const char* id : {"a", "b", "c", "d"}) {
    EXPECT_THAT(LineStartingWith(result.stdout_text, absl::StrCat(id, " ")), HasSubstr("SUCCEEDED"))
        << id;
  }
  EXPECT_THAT(LineStartingWith(result.stdout_text, "batch "),
              StartsWith(absl::StrCat("batch ", batch_id, " SUCCEEDED: total 4")))
      << result.stdout_text;
}

TEST_F(BatchctlTest, StatusShowsAFinishedBatch) {
  const std::string id = FinishedBatch();
  ASSERT_FALSE(id.empty());
  const CommandResult result = Batchctl({"status", id});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "batch:"), HasSubstr(id));
  EXPECT_THAT(LineStartingWith(result.stdout_text, "state:"), HasSubstr("SUCCEEDED"));
  EXPECT_THAT(LineStartingWith(result.stdout_text, "total:"), HasSubstr("2"));
  EXPECT_THAT(LineStartingWith(result.stdout_text, "completed:"), HasSubstr("2"));
}

TEST_F(BatchctlTest, StatusOfAnUnknownBatchExitsOneWithNotFound) {
  const CommandResult result = Batchctl({"status", "no-such-batch"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.stderr_text, HasSubstr("ERROR NOT_FOUND: Batch 'no-such-batch' not found"));
}

TEST_F(BatchctlTest, ResultsPrintsTheTableAndSummary) {
  const std::string id = FinishedBatch();
  ASSERT_FALSE(id.empty());
  const CommandResult result = Batchctl({"results", id});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "first "),
              AllOf(HasSubstr("SUCCEEDED"), HasSubstr("\"hello from first\"")))
      << result.stdout_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "second "), HasSubstr("SUCCEEDED"));
  EXPECT_THAT(LineStartingWith(result.stdout_text, "batch "),
              StartsWith(absl::StrCat("batch ", id, " SUCCEEDED: total 2, successful 2")));
}

TEST_F(BatchctlTest, ResultsFollowStreamsEveryResultThenTheSummary) {
  const std::string id = FinishedBatch();
  ASSERT_FALSE(id.empty());
  const CommandResult result = Batchctl({"results", id, "--follow"});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_THAT(LineStartingWith(result.stdout_text, "first "), HasSubstr("SUCCEEDED"));
  EXPECT_THAT(LineStartingWith(result.stdout_text, "second "), HasSubstr("SUCCEEDED"));
  const std::vector<std::string> lines = Lines(result.stdout_text);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), StartsWith(absl::StrCat("batch ", id, " SUCCEEDED: total 2")));
}

TEST_F(BatchctlTest, ListShowsBatchesNewestFirst) {
  const std::string older = FinishedBatch();
  const std::string newer = FinishedBatch();
  ASSERT_FALSE(older.empty());
  ASSERT_FALSE(newer.empty());
  const CommandResult result = Batchctl({"list"});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  const std::vector<std::string> lines = Lines(result.stdout_text);
  ASSERT_EQ(lines.size(), 3u) << result.stdout_text;
  EXPECT_THAT(lines[0], StartsWith("ID"));
  EXPECT_THAT(lines[1], AllOf(StartsWith(newer), HasSubstr("SUCCEEDED"), HasSubstr("2/2")));
  EXPECT_THAT(lines[2], AllOf(StartsWith(older), HasSubstr("SUCCEEDED"), HasSubstr("2/2")));
}

TEST_F(BatchctlTest, CancelOfAFinishedBatchExitsOneWithFailedPrecondition) {
  const std::string id = FinishedBatch();
  ASSERT_FALSE(id.empty());
  // The daemon's own words, to check batchctl passes them on unchanged.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::CancelBatchRequest request;
  request.set_batch_id(id);
  v1::CancelBatchResponse response;
  const grpc::Status status = batches_->CancelBatch(&context, request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();

  const CommandResult result = Batchctl({"cancel", id});
  EXPECT_EQ(result.exit_code, 1) << result.stdout_text;
  EXPECT_THAT(result.stderr_text,
              StartsWith(absl::StrCat("ERROR FAILED_PRECONDITION: ", status.error_message())));
  EXPECT_EQ(result.stdout_text, "");
}

TEST_F(BatchctlTest, CancelOfARunningBatchExitsZero) {
  const std::string path =
      WriteBatchFile(R"({"tasks": [{"id": "long", "executor": "sleep", "input": {"ms": 30000}}]})");
  const CommandResult submitted = Batchctl({"submit", path});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.stderr_text;
  const std::vector<std::string> lines = Lines(submitted.stdout_text);
  ASSERT_THAT(lines, ElementsAre(Not(HasSubstr(" "))));
  const std::string& id = lines.front();

  const CommandResult cancelled = Batchctl({"cancel", id, "--reason", "no longer needed"});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.stderr_text;
  EXPECT_THAT(cancelled.stdout_text, StartsWith(absl::StrCat("batch ", id, ": ")));

  const CommandResult results = Batchctl({"results", id, "--follow"});
  EXPECT_EQ(results.exit_code, 1) << "a cancelled batch is not a success";
  EXPECT_THAT(LineStartingWith(results.stdout_text, "long "),
              AllOf(HasSubstr("CANCELLED"), HasSubstr("Cancelled: no longer needed")))
      << results.stdout_text;
  EXPECT_THAT(LineStartingWith(results.stdout_text, "batch "),
              HasSubstr("cancelled: no longer needed"));
}

TEST_F(BatchctlTest, CacheStatsCountTheHitsAndInvalidateDropsEntries) {
  const std::string path = WriteBatchFile(
      R"({"options": {"defaultCache": {"ttlMs": 60000, "namespace": "docs"}},
          "tasks": [{"id": "a", "executor": "echo", "input": "same"},
                    {"id": "b", "executor": "echo", "input": "other", "cache": {"ttlMs": 60000}}]})");
  ASSERT_EQ(Batchctl({"run", path}).exit_code, 0);
  const CommandResult second = Batchctl({"run", path});
  ASSERT_EQ(second.exit_code, 0) << second.stderr_text;

  const CommandResult stats = Batchctl({"cache", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.stderr_text;
  EXPECT_THAT(Lines(stats.stdout_text),
              AllOf(Contains("entries              2"),
                    Contains("lookups              4: 2 hits (50.0%), 2 misses"),
                    Contains("stored               2")))
      << stats.stdout_text;

  const CommandResult by_namespace = Batchctl({"cache", "invalidate", "--namespace", "docs"});
  EXPECT_EQ(by_namespace.exit_code, 0) << by_namespace.stderr_text;
  EXPECT_EQ(by_namespace.stdout_text, "invalidated 1 entry\n");
  const CommandResult all = Batchctl({"cache", "invalidate", "--all"});
  EXPECT_EQ(all.stdout_text, "invalidated 1 entry\n");
  EXPECT_THAT(Lines(Batchctl({"cache", "stats"}).stdout_text), Contains("entries              0"));

  const CommandResult neither = Batchctl({"cache", "invalidate"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_EQ(neither.stderr_text,
            "batchctl: say what to invalidate: cache invalidate (--key KEY [--namespace NS] | "
            "--namespace NS | --all)\n");
  const CommandResult both = Batchctl({"cache", "invalidate", "--all", "--key", "k"});
  EXPECT_EQ(both.exit_code, 2);
  const CommandResult no_subcommand = Batchctl({"cache"});
  EXPECT_EQ(no_subcommand.exit_code, 2);
  EXPECT_THAT(no_subcommand.stderr_text,
              HasSubstr("'cache' needs a subcommand: stats or invalidate"));
}

}  // namespace
}  // namespace batchd
