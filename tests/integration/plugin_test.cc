// Plugins in the real daemon: batchd --plugin=<example text plugin> runs upper and wordcount
// tasks and lists them as plugin executors; unusable plugins stop it from starting (exit 2)
// with a message naming the file.
#include <grpcpp/client_context.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using ::batchd::testing::ChildProcess;
using ::batchd::testing::DaemonProcess;
using ::testing::HasSubstr;

const std::string kTextPlugin = BATCHD_TEXT_PLUGIN;
const std::string kWrongAbiPlugin = BATCHD_WRONG_ABI_PLUGIN;
const std::string kNoEntryPlugin = BATCHD_NO_ENTRY_PLUGIN;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr std::chrono::seconds kCallTimeout{60};
constexpr absl::Duration kExitTimeout = absl::Seconds(30);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
        DaemonProcess::Start({"--plugin=" + kTextPlugin});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    batches_ = daemon_->NewBatchStub();
  }
  void TearDown() override {
    if (HasFailure() && daemon_ != nullptr) std::cerr << "batchd stderr:\n" << daemon_->Stderr();
  }

  v1::BatchSummary ProcessOk(const v1::ProcessBatchRequest& request) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ProcessBatchResponse response;
    grpc::Status status = batches_->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return response.summary();
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::BatchService::Stub> batches_;
};

v1::Task* AddTask(v1::ProcessBatchRequest* request, const std::string& id,
                  const std::string& executor) {
  v1::Task* task = request->add_tasks();
  task->set_id(id);
  task->set_executor(executor);
  return task;
}

const v1::TaskResult* FindResult(const v1::BatchSummary& summary, const std::string& id) {
  for (const v1::TaskResult& result : summary.results()) {
    if (result.task_id() == id) return &result;
  }
  return nullptr;
}

TEST_F(PluginTest, ListExecutorsShowsThePluginsExecutors) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ListExecutorsResponse response;
  grpc::Status status = batches_->ListExecutors(&context, v1::ListExecutorsRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  int plugins = 0;
  for (const v1::ExecutorInfo& info : response.executors()) {
    if (info.name() != "upper" && info.name() != "wordcount") continue;
    ++plugins;
    EXPECT_EQ(info.kind(), "plugin") << info.name();
    EXPECT_EQ(info.capacity(), 4u) << info.name() << ": --plugin-threads defaults to 4";
  }
  EXPECT_EQ(plugins, 2);
}

TEST_F(PluginTest, BatchRunsUpperAndWordcount) {
  v1::ProcessBatchRequest request;
  AddTask(&request, "shout", "upper")->mutable_input()->set_string_value("hello plugin world");
  v1::Task* count = AddTask(&request, "count", "wordcount");
  (*count->mutable_input()->mutable_struct_value()->mutable_fields())["text"].set_string_value(
      "one two  three\tfour");
  count->add_dependencies("shout");

  v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(summary.successful_count(), 2u);
  const v1::TaskResult* shout = FindResult(summary, "shout");
  ASSERT_NE(shout, nullptr);
  EXPECT_TRUE(shout->success()) << shout->error();
  EXPECT_EQ(shout->output().string_value(), "HELLO PLUGIN WORLD");
  EXPECT_EQ(shout->executor(), "upper");
  const v1::TaskResult* counted = FindResult(summary, "count");
  ASSERT_NE(counted, nullptr);
  EXPECT_TRUE(counted->success()) << counted->error();
  EXPECT_EQ(counted->output().struct_value().fields().at("words").number_value(), 4);

  // wordcount's partial output (the ABI's output()), kept after the task ended.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::StreamTaskOutputRequest follow;
  follow.set_batch_id(summary.batch_id());
  follow.set_task_id("count");
  auto reader = batches_->StreamTaskOutput(&context, follow);
  std::string text;
  v1::StreamTaskOutputResponse message;
  bool got_result = false;
  while (reader->Read(&message)) {
    text += message.data();
    got_result = got_result || message.has_result();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(text, "counting 19 bytes\n");
  EXPECT_TRUE(got_result);
}

TEST_F(PluginTest, BadInputFailsTheTaskWithoutRetries) {
  v1::ProcessBatchRequest request;
  AddTask(&request, "bad", "upper")->mutable_input()->set_number_value(42);

  v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_FAILED);
  const v1::TaskResult* bad = FindResult(summary, "bad");
  ASSERT_NE(bad, nullptr);
  EXPECT_FALSE(bad->success());
  EXPECT_EQ(bad->error(), R"(upper: input must be a string or {"text": string})");
  EXPECT_EQ(bad->retry_count(), 0u);
}

// The daemon's exit code and stderr when started with `flags`.
struct Refusal {
  int exit_code = -1;
  std::string stderr_text;
};
Refusal StartRefused(const std::vector<std::string>& flags) {
  // No journal: refused daemons must not share (and lock) a default ./batchd-data.
  std::vector<std::string> argv = {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0",
                                   "--durability=none"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return {};
  absl::StatusOr<int> code = (*child)->WaitForExit(kExitTimeout);
  EXPECT_TRUE(code.ok()) << code.status();
  return {code.value_or(-1), (*child)->Stderr()};
}

TEST(PluginStartupTest, WrongAbiVersionStopsTheDaemon) {
  Refusal r = StartRefused({"--plugin=" + kWrongAbiPlugin});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_text, HasSubstr("batchd: plugin " + kWrongAbiPlugin +
                                       ": ABI version 2, this batchd supports 1\n"));
}

TEST(PluginStartupTest, MissingEntrySymbolStopsTheDaemon) {
  Refusal r = StartRefused({"--plugin=" + kTextPlugin + "," + kNoEntryPlugin});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_text, HasSubstr("batchd: plugin " + kNoEntryPlugin +
                                       ": missing symbol batchd_plugin_entry (dlsym: "));
}

TEST(PluginStartupTest, ZeroPluginThreadsIsRefused) {
  Refusal r = StartRefused({"--plugin=" + kTextPlugin, "--plugin-threads=0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_text,
              HasSubstr("batchd: invalid --plugin-threads 0: must be between 1 and 256\n"));
}

}  // namespace
}  // namespace batchd
