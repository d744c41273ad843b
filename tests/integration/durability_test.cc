// The journal through the real daemon: batches survive SIGTERM and restarts on the same
// --data-dir, request ids are idempotent across restarts, --durability=none keeps nothing,
// and a data directory serves one daemon at a time. (kill -9 at random moments:
// tests/reliability/crash_test.cc.)
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using testing::DaemonProcess;
using ::testing::HasSubstr;

v1::SubmitBatchRequest SleepBatch(int tasks, int ms, std::string request_id = "") {
  v1::SubmitBatchRequest request;
  request.set_request_id(std::move(request_id));
  for (int i = 0; i < tasks; ++i) {
    v1::Task* t = request.add_tasks();
    t->set_id(absl::StrCat("s", i));
    t->set_executor("sleep");
    (*t->mutable_input()->mutable_struct_value()->mutable_fields())["ms"].set_number_value(ms);
  }
  request.mutable_options()->set_max_concurrent(static_cast<uint32_t>(tasks));
  return request;
}

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-durability");
    ASSERT_TRUE(dir.ok());
    data_dir_ = *dir;
  }
  void TearDown() override { testing::RemoveTree(data_dir_); }

  std::unique_ptr<DaemonProcess> Start(std::vector<std::string> flags = {}) {
    flags.push_back("--data-dir=" + data_dir_);
    absl::StatusOr<std::unique_ptr<DaemonProcess>> d = DaemonProcess::Start(flags);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  static absl::StatusOr<std::string> Submit(DaemonProcess& daemon,
                                            const v1::SubmitBatchRequest& request) {
    grpc::ClientContext context;
    v1::SubmitBatchResponse response;
    const grpc::Status s = daemon.NewBatchStub()->SubmitBatch(&context, request, &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    return response.batch_id();
  }

  static v1::GetBatchResponse Get(DaemonProcess& daemon, const std::string& id,
                                  grpc::Status* status = nullptr) {
    grpc::ClientContext context;
    v1::GetBatchRequest request;
    request.set_batch_id(id);
    v1::GetBatchResponse response;
    grpc::Status s = daemon.NewBatchStub()->GetBatch(&context, request, &response);
    if (status != nullptr) *status = s;
    return response;
  }

  // Waits (bounded) until `n` tasks of the batch run.
  static void WaitRunning(DaemonProcess& daemon, const std::string& id, uint32_t n) {
    for (int i = 0; i < 500; ++i) {
      grpc::ClientContext context;
      v1::GetProgressRequest request;
      request.set_batch_id(id);
      v1::GetProgressResponse response;
      if (daemon.NewBatchStub()->GetProgress(&context, request, &response).ok() &&
          response.progress().running_tasks() >= n) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "batch " << id << " never had " << n << " running tasks";
  }

  std::string data_dir_;
};

TEST_F(DurabilityTest, SigtermSuspendsARunningBatchAndTheNextStartFinishesIt) {
  // The batch is suspended 6 s after SIGTERM (the last quarter of the grace, up to 2 s, is left
  // for the answers to get out, enough on a loaded sanitizer build), long before its tasks could
  // finish.
  std::unique_ptr<DaemonProcess> daemon = Start({"--shutdown-grace=8s"});
  ASSERT_NE(daemon, nullptr);
  absl::StatusOr<std::string> id = Submit(*daemon, SleepBatch(3, 20000));
  ASSERT_TRUE(id.ok()) << id.status();
  WaitRunning(*daemon, *id, 3);

  // A ProcessBatch-style waiter learns that the batch resumes later.
  std::unique_ptr<v1::BatchService::Stub> stub = daemon->NewBatchStub();
  grpc::ClientContext stream_context;
  v1::StreamResultsRequest stream_request;
  stream_request.set_batch_id(*id);
  auto reader = stub->StreamResults(&stream_context, stream_request);
  // A unary call on the same channel (so on the same connection, after the stream's headers):
  // once it is answered the daemon has the stream, and SIGTERM cannot overtake it (on a loaded
  // machine it did: the stream then reached a server already shutting down, CANCELLED).
  {
    grpc::ClientContext context;
    v1::GetProgressRequest request;
    request.set_batch_id(*id);
    v1::GetProgressResponse response;
    ASSERT_TRUE(stub->GetProgress(&context, request, &response).ok());
  }
  ASSERT_TRUE(daemon->SendSignal(SIGTERM).ok());
  v1::StreamResultsResponse message;
  while (reader->Read(&message)) {
  }
  const grpc::Status stream_status = reader->Finish();
  EXPECT_EQ(stream_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(stream_status.error_message(),
            "batchd is shutting down; batch " + *id + " resumes when the daemon restarts");
  absl::StatusOr<int> exit = daemon->WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, 0);
  daemon.reset();

  daemon = Start();
  ASSERT_NE(daemon, nullptr);
  std::unique_ptr<v1::BatchService::Stub> again = daemon->NewBatchStub();
  const v1::BatchSummary summary = testing::WaitForBatchEnd(*again, *id, absl::Seconds(30));
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(summary.results_size(), 3);
  for (const v1::TaskResult& r : summary.results()) {
    EXPECT_EQ(r.state(), v1::TASK_STATE_SUCCEEDED) << r.task_id();
    EXPECT_EQ(r.retry_count(), 1u) << r.task_id() << ": the interrupted attempt is counted";
  }
  EXPECT_THAT(daemon->Stderr(), HasSubstr("batches recovered"));
}

TEST_F(DurabilityTest, RequestIdIsIdempotentAcrossARestartAndRejectsOtherContent) {
  std::unique_ptr<DaemonProcess> daemon = Start();
  ASSERT_NE(daemon, nullptr);
  const v1::SubmitBatchRequest request = SleepBatch(2, 10, "order-42");
  absl::StatusOr<std::string> first = Submit(*daemon, request);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::string> second = Submit(*daemon, request);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  ASSERT_TRUE(daemon->SendSignal(SIGKILL).ok());
  ASSERT_TRUE(daemon->WaitForExit(absl::Seconds(10)).ok());
  daemon.reset();

  daemon = Start();
  ASSERT_NE(daemon, nullptr);
  absl::StatusOr<std::string> after = Submit(*daemon, request);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, *first);
  absl::StatusOr<std::string> other = Submit(*daemon, SleepBatch(3, 10, "order-42"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(other.status().message(), "request_id 'order-42' was already used for batch " + *first +
                                          " with different content; use a new request_id");
  // ProcessBatch with the same id and content joins the same batch.
  grpc::ClientContext context;
  v1::ProcessBatchRequest process;
  process.set_request_id(request.request_id());
  *process.mutable_tasks() = request.tasks();
  *process.mutable_options() = request.options();
  v1::ProcessBatchResponse response;
  ASSERT_TRUE(daemon->NewBatchStub()->ProcessBatch(&context, process, &response).ok());
  EXPECT_EQ(response.batch_id(), *first);
  EXPECT_EQ(response.summary().successful_count(), 2u);
  v1::ListBatchesResponse listed;
  grpc::ClientContext list_context;
  ASSERT_TRUE(
      daemon->NewBatchStub()->ListBatches(&list_context, v1::ListBatchesRequest(), &listed).ok());
  EXPECT_EQ(listed.batches_size(), 1);
}

TEST_F(DurabilityTest, DurabilityNoneKeepsNothingAndWritesNoFiles) {
  std::filesystem::remove_all(data_dir_);
  std::unique_ptr<DaemonProcess> daemon = Start({"--durability=none"});
  ASSERT_NE(daemon, nullptr);
  absl::StatusOr<std::string> id = Submit(*daemon, SleepBatch(1, 10));
  ASSERT_TRUE(id.ok());
  daemon.reset();
  EXPECT_FALSE(std::filesystem::exists(data_dir_));
  daemon = Start({"--durability=none"});
  ASSERT_NE(daemon, nullptr);
  grpc::Status status;
  Get(*daemon, *id, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DurabilityTest, FinishedBatchesStayQueryableAcrossARestartUntilRetentionEnds) {
  std::unique_ptr<DaemonProcess> daemon = Start({"--retention=3s"});
  ASSERT_NE(daemon, nullptr);
  absl::StatusOr<std::string> id = Submit(*daemon, SleepBatch(2, 10));
  ASSERT_TRUE(id.ok());
  const v1::BatchSummary before =
      testing::WaitForBatchEnd(*daemon->NewBatchStub(), *id, absl::Seconds(10));
  daemon.reset();  // SIGKILL by the destructor
  daemon = Start({"--retention=3s"});
  ASSERT_NE(daemon, nullptr);
  grpc::Status status;
  const v1::GetBatchResponse after = Get(*daemon, *id, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(after.summary().state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(after.summary().results_size(), 2);
  EXPECT_EQ(after.summary().results(0).task_id(), before.results(0).task_id());
  EXPECT_EQ(after.summary().results(0).finished_at().seconds(),
            before.results(0).finished_at().seconds());
  // Once retention has passed, the batch is gone, also from the journal.
  absl::SleepFor(absl::Seconds(4));
  Get(*daemon, *id, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  daemon.reset();
  daemon = Start({"--retention=3s"});
  ASSERT_NE(daemon, nullptr);
  Get(*daemon, *id, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DurabilityTest, ASecondDaemonOnTheSameDataDirectoryExitsNamingIt) {
  std::unique_ptr<DaemonProcess> daemon = Start();
  ASSERT_NE(daemon, nullptr);
  absl::StatusOr<testing::CommandResult> second = testing::RunCommand(
      {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--data-dir=" + data_dir_},
      absl::Seconds(20));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_THAT(second->stderr_text,
              HasSubstr("batchd: data directory '" + data_dir_ + "' is in use by another batchd"));
}

TEST_F(DurabilityTest, UnknownDurabilityIsABadFlag) {
  absl::StatusOr<testing::CommandResult> run = testing::RunCommand(
      {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--durability=sometimes"},
      absl::Seconds(20));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text,
              HasSubstr("invalid --durability 'sometimes': expected none, normal or full"));
}

}  // namespace
}  // namespace batchd
