// Where limits come from, through the real daemon: --limits-file at start (a bad file stops
// batchd with exit 2 naming the file, line, column and problem), and run-time changes, which the
// journal keeps so that a restart on the same --data-dir runs with them -- a key deleted at run
// time stays deleted even though the file names it.
#include <grpcpp/client_context.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "batchd/v1/limit_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using testing::DaemonProcess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kExitTimeout = absl::Seconds(30);

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return context;
}

class LimitsRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-limits-restart");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    limits_file_ = dir_ + "/limits.json";
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  void WriteLimitsFile(const std::string& text) { std::ofstream(limits_file_) << text; }

  std::unique_ptr<DaemonProcess> Start() {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> d =
        DaemonProcess::Start({"--data-dir=" + dir_ + "/data", "--limits-file=" + limits_file_});
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }
  static void Stop(DaemonProcess& daemon) {
    ASSERT_TRUE(daemon.SendSignal(SIGTERM).ok());
    absl::StatusOr<int> exit_code = daemon.WaitForExit(kExitTimeout);
    ASSERT_TRUE(exit_code.ok()) << exit_code.status();
    EXPECT_EQ(*exit_code, 0) << daemon.Stderr();
  }

  // "key max_in_flight" of every configured limit, by key.
  static std::vector<std::string> Listed(DaemonProcess& daemon) {
    v1::ListLimitsResponse response;
    const grpc::Status s =
        v1::LimitService::NewStub(daemon.NewChannel())->ListLimits(Context().get(), {}, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const v1::LimitStatus& status : response.limits()) {
      out.push_back(absl::StrCat(status.limit().key(), " ", status.limit().max_in_flight()));
    }
    return out;
  }
  static grpc::Status Set(DaemonProcess& daemon, const std::string& key, int64_t max_in_flight) {
    v1::SetLimitRequest request;
    request.mutable_limit()->set_key(key);
    request.mutable_limit()->set_max_in_flight(max_in_flight);
    v1::SetLimitResponse response;
    return v1::LimitService::NewStub(daemon.NewChannel())
        ->SetLimit(Context().get(), request, &response);
  }
  static grpc::Status Delete(DaemonProcess& daemon, const std::string& key) {
    v1::DeleteLimitRequest request;
    request.set_key(key);
    v1::DeleteLimitResponse response;
    return v1::LimitService::NewStub(daemon.NewChannel())
        ->DeleteLimit(Context().get(), request, &response);
  }
  static grpc::Status SubmitNaming(DaemonProcess& daemon, const std::string& key) {
    v1::SubmitBatchRequest request;
    v1::Task* task = request.add_tasks();
    task->set_id("call");
    task->set_executor("echo");
    task->add_limits()->set_key(key);
    v1::SubmitBatchResponse response;
    return daemon.NewBatchStub()->SubmitBatch(Context().get(), request, &response);
  }

  absl::StatusOr<testing::CommandResult> RunWithFile() const {
    return testing::RunCommand({DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0",
                                "--durability=none", "--limits-file=" + limits_file_},
                               kExitTimeout);
  }

  std::string dir_;
  std::string limits_file_;
};

TEST_F(LimitsRestartTest, TheFilesLimitsAreInForceAtStart) {
  WriteLimitsFile(R"({"limits": [
    {"key": "openai", "max_in_flight": 2, "rates": [{"units": 500, "per": "minute"}]},
    {"key": "tenant:1", "max_in_flight": 1}
  ]})");
  std::unique_ptr<DaemonProcess> daemon = Start();
  ASSERT_NE(daemon, nullptr);
  EXPECT_THAT(Listed(*daemon), ElementsAre("openai 2", "tenant:1 1"));
  EXPECT_TRUE(SubmitNaming(*daemon, "openai").ok());
  const grpc::Status unknown = SubmitNaming(*daemon, "anthropic");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown.error_message(), HasSubstr("Unknown limit 'anthropic' named by task 'call'"));
  Stop(*daemon);
}

TEST_F(LimitsRestartTest, RunTimeChangesOutliveARestartAndOverrideTheFile) {
  WriteLimitsFile(R"({"limits": [{"key": "openai", "max_in_flight": 2},
                                 {"key": "tenant:1", "max_in_flight": 1}]})");
  std::unique_ptr<DaemonProcess> daemon = Start();
  ASSERT_NE(daemon, nullptr);
  ASSERT_TRUE(Set(*daemon, "openai", 5).ok());
  ASSERT_TRUE(Delete(*daemon, "tenant:1").ok());
  ASSERT_TRUE(Set(*daemon, "search", 3).ok());
  EXPECT_THAT(Listed(*daemon), ElementsAre("openai 5", "search 3"));
  Stop(*daemon);

  daemon = Start();  // the same file, which still names tenant:1 with 1
  ASSERT_NE(daemon, nullptr);
  EXPECT_THAT(Listed(*daemon), ElementsAre("openai 5", "search 3"));
  EXPECT_EQ(SubmitNaming(*daemon, "tenant:1").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(daemon->Stderr(), HasSubstr("limits: 2 in force"));
  // Set again after the deletion: the newest change wins at the next start too.
  ASSERT_TRUE(Set(*daemon, "tenant:1", 4).ok());
  Stop(*daemon);
  daemon = Start();
  ASSERT_NE(daemon, nullptr);
  EXPECT_THAT(Listed(*daemon), ElementsAre("openai 5", "search 3", "tenant:1 4"));
  Stop(*daemon);
}

TEST_F(LimitsRestartTest, ABadLimitsFileStopsBatchdWithExitTwoNamingWhere) {
  WriteLimitsFile(
      "{\"limits\": [\n  {\"key\": \"openai\",\n   \"rates\": [{\"units\": 5, \"per\": "
      "\"fortnight\"}]}\n]}\n");
  absl::StatusOr<testing::CommandResult> run = RunWithFile();
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text,
              HasSubstr(absl::StrCat("batchd: --limits-file: ", limits_file_,
                                     ":3:34: limits[0].rates[0].per: unknown period "
                                     "\"fortnight\"")));
  EXPECT_EQ(run->stdout_text, "");

  WriteLimitsFile(R"({"limits": [{"key": "a", "max_in_flight": 0}]})");
  run = RunWithFile();
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text, HasSubstr("batchd: --limits-file: " + limits_file_ + ":1:"));
  EXPECT_THAT(run->stderr_text, HasSubstr("max_in_flight"));

  testing::RemoveTree(limits_file_);
  run = RunWithFile();
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text,
              HasSubstr("batchd: --limits-file: cannot open limits file '" + limits_file_ + "'"));
}

}  // namespace
}  // namespace batchd
