// The shell executor in the real daemon: on only with --enable-shell, output comes back through
// ProcessBatch, and a timeout really ends the program. Waits are bounded polls with generous
// limits (a busy 2-core machine may be building while this runs).
#include <dirent.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kCallTimeout{60};

v1::Task* AddShellTask(v1::ProcessBatchRequest* request, const std::string& id,
                       const std::vector<std::string>& argv) {
  v1::Task* task = request->add_tasks();
  task->set_id(id);
  task->set_executor("shell");
  auto& fields = *task->mutable_input()->mutable_struct_value()->mutable_fields();
  google::protobuf::ListValue* list = fields["argv"].mutable_list_value();
  for (const std::string& arg : argv) list->add_values()->set_string_value(arg);
  return task;
}

grpc::Status Process(const DaemonProcess& daemon, const v1::ProcessBatchRequest& request,
                     v1::ProcessBatchResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return daemon.NewBatchStub()->ProcessBatch(&context, request, response);
}

// Live (non-zombie) processes whose command line is exactly `argv`.
int LiveProcessesRunning(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const std::string& arg : argv) wanted += arg + '\0';
  int count = 0;
  DIR* dir = opendir("/proc");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    const std::string base = absl::StrCat("/proc/", entry->d_name);
    std::ifstream cmdline_file(base + "/cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)),
                              std::istreambuf_iterator<char>());
    if (cmdline != wanted) continue;
    std::ifstream stat_file(base + "/stat");
    const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                           std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z') ++count;
  }
  closedir(dir);
  return count;
}

std::unique_ptr<DaemonProcess> StartDaemon(const std::vector<std::string>& flags) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon = DaemonProcess::Start(flags);
  EXPECT_TRUE(daemon.ok()) << daemon.status();
  return daemon.ok() ? *std::move(daemon) : nullptr;
}

TEST(ShellIntegrationTest, EchoHiSucceedsWithItsStdout) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--enable-shell"});
  ASSERT_NE(daemon, nullptr);
  v1::ProcessBatchRequest request;
  AddShellTask(&request, "hi", {"echo", "hi"});

  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*daemon, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_EQ(response.summary().results_size(), 1) << response.DebugString();
  const v1::TaskResult& result = response.summary().results(0);
  EXPECT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.DebugString();
  const auto& output = result.output().struct_value().fields();
  ASSERT_TRUE(output.contains("stdout")) << result.DebugString();
  EXPECT_EQ(output.at("stdout").string_value(), "hi\n");
  EXPECT_EQ(output.at("exit_code").number_value(), 0);
  EXPECT_FALSE(output.at("stdout_truncated").bool_value());
  EXPECT_EQ(result.executor(), "shell");
}

TEST(ShellIntegrationTest, FailureCarriesTheExitAndOutputAndInvalidUtf8StaysSerializable) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--enable-shell"});
  ASSERT_NE(daemon, nullptr);
  v1::ProcessBatchRequest request;
  AddShellTask(&request, "bad", {"/bin/sh", "-c", "printf '\\377ok'; echo oops >&2; exit 4"});
  // Without retries: a non-zero exit is retried by the default policy (1 + 2 + 4 s).
  request.mutable_options()->mutable_retry_policy()->set_kind(v1::RETRY_KIND_NONE);

  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*daemon, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_EQ(response.summary().results_size(), 1) << response.DebugString();
  const v1::TaskResult& result = response.summary().results(0);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.error(), "shell: exited with code 4: oops");
  const auto& output = result.output().struct_value().fields();
  ASSERT_TRUE(output.contains("stdout")) << result.DebugString();
  EXPECT_EQ(output.at("stdout").string_value(), "\xEF\xBF\xBDok");
  EXPECT_EQ(output.at("exit_code").number_value(), 4);
}

TEST(ShellIntegrationTest, TimeoutEndsTheProgram) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--enable-shell"});
  ASSERT_NE(daemon, nullptr);
  // A duration no other process on the machine is sleeping, to find this one in /proc.
  const std::vector<std::string> argv = {
      "sleep", absl::StrCat("30.", absl::ToUnixMicros(absl::Now()) % 1000000 + 1000000)};
  v1::ProcessBatchRequest request;
  AddShellTask(&request, "slow", argv)->set_timeout_ms(200);

  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*daemon, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_EQ(response.summary().results_size(), 1) << response.DebugString();
  const v1::TaskResult& result = response.summary().results(0);
  EXPECT_EQ(result.state(), v1::TASK_STATE_TIMED_OUT) << result.DebugString();
  EXPECT_EQ(result.error(), "Timeout after 200 ms");
  // SIGTERM ends sleep at once; allow for a loaded machine, but far less than its 30 s.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (LiveProcessesRunning(argv) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(LiveProcessesRunning(argv), 0) << argv[0] << " " << argv[1] << " still runs";
}

TEST(ShellIntegrationTest, WithoutEnableShellTheExecutorIsUnknownAtSubmit) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({});
  ASSERT_NE(daemon, nullptr);
  v1::ProcessBatchRequest request;
  AddShellTask(&request, "a", {"echo", "hi"});

  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*daemon, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("Unknown executor 'shell' of task 'a'"));
}

TEST(ShellIntegrationTest, UnusableShellFlagExitsWithCode2) {
  absl::StatusOr<testing::CommandResult> result =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--enable-shell",
                           "--shell-kill-grace=-1s"},
                          absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text,
              HasSubstr("invalid --shell-kill-grace -1s: must be between 0s and 10m"));
}

TEST(ShellIntegrationTest, HelpDocumentsEnableShell) {
  absl::StatusOr<testing::CommandResult> result =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--helpfull"}, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  // Abseil wraps help text: compare with whitespace runs collapsed.
  std::string help;
  for (char c : result->stdout_text + result->stderr_text) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (space && (help.empty() || help.back() == ' ')) continue;
    help += space ? ' ' : c;
  }
  EXPECT_THAT(help, HasSubstr("-enable-shell"));
  EXPECT_THAT(help, HasSubstr("Off by default: without it a task naming 'shell' is rejected"));
}

}  // namespace
}  // namespace batchd
