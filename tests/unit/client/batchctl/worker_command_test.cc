// Tests for `batchctl worker`'s option handling.
#include "client/batchctl/worker_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace batchd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

CommandLine Parse(const std::vector<std::string>& args) {
  absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, "127.0.0.1:50051");
  EXPECT_TRUE(command_line.ok()) << command_line.status();
  return command_line.value_or(CommandLine{});
}

TEST(WorkerOptionsFromCommandLineTest, TakesTheFlags) {
  const absl::StatusOr<WorkerSessionOptions> options = WorkerOptionsFromCommandLine(
      Parse({"worker", "--addr", "unix:/tmp/b.sock", "--executor", "a", "--executor", "b",
             "--slots", "3", "--name", "w1", "--weight", "0.5", "--", "cat"}),
      "host-1");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "unix:/tmp/b.sock");
  EXPECT_THAT(options->executors, ElementsAre("a", "b"));
  EXPECT_EQ(options->slots, 3u);
  EXPECT_EQ(options->name, "w1");
  EXPECT_EQ(options->weight, 0.5);
  EXPECT_TRUE(options->send_heartbeats);
}

TEST(WorkerOptionsFromCommandLineTest, DefaultsToOneSlotAndTheDefaultName) {
  const absl::StatusOr<WorkerSessionOptions> options =
      WorkerOptionsFromCommandLine(Parse({"worker", "--executor", "a", "--", "cat"}), "host-1");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "127.0.0.1:50051");
  EXPECT_EQ(options->slots, 1u);
  EXPECT_EQ(options->name, "host-1");
  EXPECT_EQ(options->weight, 1.0);
}

TEST(WorkerOptionsFromCommandLineTest, NeedsAnExecutor) {
  const absl::StatusOr<WorkerSessionOptions> options =
      WorkerOptionsFromCommandLine(Parse({"worker", "--", "cat"}), "host-1");
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()),
              StartsWith("'worker' needs at least one --executor"));
}

TEST(DefaultWorkerNameTest, EndsWithThePid) {
  EXPECT_THAT(DefaultWorkerName(), HasSubstr(std::to_string(getpid())));
}

}  // namespace
}  // namespace batchd::client
