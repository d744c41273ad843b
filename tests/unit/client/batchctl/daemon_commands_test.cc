// batchctl health, executors and layers against a scripted in-process server (tests/testing).
#include "client/batchctl/daemon_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "client/format/error_format.h"
#include "client/format/listing_format.h"
#include "tests/testing/fake_batch_service.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class DaemonCommandsTest : public ::testing::Test {
 protected:
  int Run(int (*command)(const CommandContext&), const std::vector<std::string>& args,
          const std::string& in = "") {
    absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, "127.0.0.1:50051");
    EXPECT_TRUE(command_line.ok()) << command_line.status();
    if (!command_line.ok()) return -1;
    const BatchClient client(server_.channel(), CallTimeouts{});
    const ChannelOptions channel;
    std::istringstream stdin_stream(in);
    const CommandContext context{*command_line, client, channel, stdin_stream, out_, err_};
    return command(context);
  }

  batchd::testing::FakeBatchServer server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(DaemonCommandsTest, HealthPrintsServingAndSucceeds) {
  EXPECT_EQ(Run(HealthCommand, {"health"}), kExitOk);
  EXPECT_EQ(out_.str(), "SERVING\n");
}

TEST_F(DaemonCommandsTest, HealthFailsUnlessServing) {
  server_.health.serving = HealthCheckResponse::NOT_SERVING;
  EXPECT_EQ(Run(HealthCommand, {"health"}), kExitFailure);
  EXPECT_EQ(out_.str(), "NOT_SERVING\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(DaemonCommandsTest, ExecutorsPrintsTheExecutorTable) {
  v1::ListExecutorsResponse executors;
  v1::ExecutorInfo* echo = executors.add_executors();
  echo->set_name("echo");
  echo->set_kind("builtin");
  server_.batch.script()->executors = executors;
  EXPECT_EQ(Run(ExecutorsCommand, {"executors"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatExecutorTable(server_.batch.script()->executors));
  EXPECT_THAT(server_.log.calls(), ElementsAre("ListExecutors "));
}

TEST_F(DaemonCommandsTest, ExecutorsReportsTheRpcError) {
  server_.batch.script()->status = grpc::Status(grpc::StatusCode::INTERNAL, "boom");
  EXPECT_EQ(Run(ExecutorsCommand, {"executors"}), kExitFailure);
  EXPECT_EQ(err_.str(), FormatRpcError(server_.batch.script()->status));
  EXPECT_EQ(out_.str(), "");
}

TEST_F(DaemonCommandsTest, LayersResolvesTheBatchFilesTasks) {
  v1::ResolveExecutionOrderResponse resolved;
  resolved.add_layers()->add_task_ids("a");
  resolved.add_layers()->add_task_ids("b");
  resolved.add_critical_path("a");
  resolved.add_critical_path("b");
  server_.batch.script()->resolve = resolved;
  EXPECT_EQ(
      Run(LayersCommand, {"layers", "-"},
          R"({"requestId": "r", "tasks": [{"id": "a"}, {"id": "b", "dependencies": ["a"]}]})"),
      kExitOk);
  EXPECT_EQ(out_.str(), FormatExecutionOrder(resolved));
  // Only the tasks go to ResolveExecutionOrder.
  EXPECT_THAT(server_.log.calls(),
              ElementsAre("ResolveExecutionOrder tasks { id: \"a\" } tasks { id: \"b\" "
                          "dependencies: \"a\" }"));
}

TEST_F(DaemonCommandsTest, LayersReportsAMissingFileWithoutCallingTheDaemon) {
  EXPECT_EQ(Run(LayersCommand, {"layers", "/nonexistent/batch.json"}), kExitFailure);
  EXPECT_THAT(err_.str(), StartsWith("batchctl: "));
  EXPECT_THAT(server_.log.calls(), IsEmpty());
}

}  // namespace
}  // namespace batchd::client
