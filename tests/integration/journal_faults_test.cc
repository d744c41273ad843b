// When the journal's disk fails, through the real daemon: a batch refused because its record
// could not be stored never runs and is never listed; accepting resumes by itself once writes
// succeed again; Health says NOT_SERVING meanwhile; every acknowledged batch survives; damaged
// records (that still parse) are caught by their checksum, by recovery and --check-journal.
// The full disk comes from the test-only page limit (always) and from a real tmpfs (where this
// machine lets the test mount one).
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using testing::DaemonProcess;
using ::testing::HasSubstr;

// 20 echo tasks with 2 KB inputs, labelled with its number.
v1::SubmitBatchRequest EchoBatch(int n) {
  v1::SubmitBatchRequest request;
  (*request.mutable_labels())["n"] = std::to_string(n);
  for (int i = 0; i < 20; ++i) {
    v1::Task* t = request.add_tasks();
    t->set_id(absl::StrCat("t", i));
    t->set_executor("echo");
    t->mutable_input()->set_string_value(std::string(2048, static_cast<char>('a' + i % 26)));
  }
  return request;
}

grpc::Status Submit(DaemonProcess& daemon, const v1::SubmitBatchRequest& request,
                    std::string* id = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::SubmitBatchResponse response;
  grpc::Status s = daemon.NewBatchStub()->SubmitBatch(&context, request, &response);
  if (s.ok() && id != nullptr) *id = response.batch_id();
  return s;
}

HealthCheckResponse::ServingStatus Health(DaemonProcess& daemon, const std::string& service) {
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  if (!daemon.NewHealthStub()->Check(&context, request, &response).ok()) {
    return HealthCheckResponse::UNKNOWN;
  }
  return response.status();
}

// Label "n" of every listed batch.
std::set<std::string> Listed(DaemonProcess& daemon) {
  grpc::ClientContext context;
  v1::ListBatchesResponse response;
  EXPECT_TRUE(
      daemon.NewBatchStub()->ListBatches(&context, v1::ListBatchesRequest(), &response).ok());
  std::set<std::string> labels;
  for (const v1::BatchProgress& p : response.batches()) labels.insert(p.labels().at("n"));
  return labels;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class JournalFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-journal-faults");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
  }
  void TearDown() override {
    if (mounted_) ::umount2(data_dir().c_str(), MNT_DETACH);
    testing::RemoveTree(dir_);
  }
  std::string data_dir() const { return dir_ + "/data"; }

  // What filling the journal showed.
  struct Fill {
    std::set<std::string> accepted;  // labels
    std::set<std::string> refused;
    std::string refusal;  // the first refusal's message
  };
  // Submits numbered batches until `refusals` were refused in a row (at most `limit`).
  static Fill FillUp(DaemonProcess& daemon, int first, int limit, int refusals) {
    Fill fill;
    int in_a_row = 0;
    for (int n = first; n < first + limit && in_a_row < refusals; ++n) {
      const grpc::Status s = Submit(daemon, EchoBatch(n));
      if (s.ok()) {
        fill.accepted.insert(std::to_string(n));
        in_a_row = 0;
        continue;
      }
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
      if (fill.refusal.empty()) fill.refusal = s.error_message();
      fill.refused.insert(std::to_string(n));
      ++in_a_row;
    }
    return fill;
  }
  // Submits until one is accepted (bounded); how long that took.
  static absl::Duration AcceptedAgainAfter(DaemonProcess& daemon, int n) {
    const absl::Time start = absl::Now();
    for (int i = 0; i < 1000; ++i) {
      if (Submit(daemon, EchoBatch(n)).ok()) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "submissions were never accepted again";
    return absl::InfiniteDuration();
  }
  // Refused batches never ran: they are not listed, and the log says "submitted" only for the
  // accepted ones.
  static void ExpectOnlyAcceptedRan(DaemonProcess& daemon, const std::set<std::string>& accepted,
                                    size_t others_submitted) {
    EXPECT_EQ(Listed(daemon), accepted);
    EXPECT_EQ(Count(daemon.Stderr(), " submitted: "), accepted.size() + others_submitted);
  }

  std::string dir_;
  bool mounted_ = false;
};

TEST_F(JournalFaultsTest, AFullJournalRefusesWithoutRunningAndAcceptsAgainOnceItGrows) {
  const std::string limit_file = dir_ + "/pages";
  std::ofstream(limit_file) << 1000000;
  const std::vector<std::string> flags = {"--data-dir=" + data_dir(),
                                          "--test-journal-page-limit-file=" + limit_file};
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started = DaemonProcess::Start(flags);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<DaemonProcess> daemon = *std::move(started);
  // One batch accepted before the disk fills, still running while it is full.
  v1::SubmitBatchRequest slow;
  (*slow.mutable_labels())["n"] = "slow";
  v1::Task* sleep = slow.add_tasks();
  sleep->set_id("nap");
  sleep->set_executor("sleep");
  (*sleep->mutable_input()->mutable_struct_value()->mutable_fields())["ms"].set_number_value(1500);
  std::string slow_id;
  ASSERT_TRUE(Submit(*daemon, slow, &slow_id).ok());
  Fill before = FillUp(*daemon, 0, 3, 3);
  ASSERT_EQ(before.accepted.size(), 3u);

  std::ofstream(limit_file) << 1;  // SQLite keeps it at the current size: nothing may grow
  Fill full = FillUp(*daemon, 100, 40, 5);
  ASSERT_GE(full.refused.size(), 5u);
  EXPECT_THAT(full.refusal, HasSubstr("batch not accepted, nothing of it runs: the journal "
                                      "cannot store it ("));
  EXPECT_THAT(full.refusal, HasSubstr("database or disk is full"));
  EXPECT_EQ(Health(*daemon, "batchd.v1.BatchService"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(*daemon, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(*daemon, "batchd.v1.WorkerService"), HealthCheckResponse::SERVING);
  // The batch accepted before goes on; its result is not readable until it is stored.
  const v1::BatchSummary in_memory =
      testing::WaitForBatchEnd(*daemon->NewBatchStub(), slow_id, absl::Seconds(30));
  EXPECT_EQ(in_memory.state(), v1::BATCH_STATE_SUCCEEDED);

  std::ofstream(limit_file) << 1000000;
  const absl::Duration resumed = AcceptedAgainAfter(*daemon, 1000);
  std::cout << "accepting again " << absl::FormatDuration(resumed) << " after the journal grew\n";
  EXPECT_LT(resumed, absl::Seconds(5));
  EXPECT_EQ(Health(*daemon, "batchd.v1.BatchService"), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(*daemon, ""), HealthCheckResponse::SERVING);
  EXPECT_THAT(daemon->Stderr(), HasSubstr("journal: writes succeed again after"));
  // The slow batch's result, held back while it could not be stored, reads to its end now.
  grpc::ClientContext stream_context;
  stream_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::StreamResultsRequest stream_request;
  stream_request.set_batch_id(slow_id);
  auto reader = daemon->NewBatchStub()->StreamResults(&stream_context, stream_request);
  v1::StreamResultsResponse message;
  std::vector<std::string> streamed;
  while (reader->Read(&message)) {
    for (const v1::TaskResult& r : message.results()) streamed.push_back(r.task_id());
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_THAT(streamed, ::testing::ElementsAre("nap"));

  std::set<std::string> accepted = before.accepted;
  accepted.insert(full.accepted.begin(), full.accepted.end());
  accepted.insert("1000");
  accepted.insert("slow");
  ExpectOnlyAcceptedRan(*daemon, accepted, 0);

  // Every acknowledged batch survives a restart, finished.
  ASSERT_TRUE(daemon->SendSignal(SIGTERM).ok());
  ASSERT_TRUE(daemon->WaitForExit(absl::Seconds(20)).ok());
  daemon.reset();
  started = DaemonProcess::Start(flags);
  ASSERT_TRUE(started.ok()) << started.status();
  daemon = *std::move(started);
  EXPECT_EQ(Listed(*daemon), accepted);
}

// The same with the disk itself: a 2 MiB tmpfs that fills up, then is grown to 50 MiB.
TEST_F(JournalFaultsTest, ARealFullDiskRefusesWithoutRunningAndAcceptsAgainOnceItGrows) {
  ASSERT_EQ(::mkdir(data_dir().c_str(), 0700), 0);
  if (::mount("tmpfs", data_dir().c_str(), "tmpfs", 0, "size=2m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  }
  mounted_ = true;
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started =
      DaemonProcess::Start({"--data-dir=" + data_dir()});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<DaemonProcess> daemon = *std::move(started);
  Fill full = FillUp(*daemon, 0, 400, 5);
  ASSERT_GE(full.refused.size(), 5u) << "2 MiB never filled";
  EXPECT_GE(full.accepted.size(), 5u);
  EXPECT_THAT(full.refusal, HasSubstr("batch not accepted, nothing of it runs"));
  EXPECT_EQ(Health(*daemon, "batchd.v1.BatchService"), HealthCheckResponse::NOT_SERVING);

  ASSERT_EQ(::mount("tmpfs", data_dir().c_str(), "tmpfs", MS_REMOUNT, "size=50m,mode=0700"), 0)
      << std::strerror(errno);
  const absl::Duration resumed = AcceptedAgainAfter(*daemon, 1000);
  std::cout << "accepting again " << absl::FormatDuration(resumed) << " after the tmpfs grew\n";
  EXPECT_EQ(Health(*daemon, "batchd.v1.BatchService"), HealthCheckResponse::SERVING);
  std::set<std::string> accepted = full.accepted;
  accepted.insert("1000");
  ExpectOnlyAcceptedRan(*daemon, accepted, 0);
  ASSERT_TRUE(daemon->SendSignal(SIGTERM).ok());
  ASSERT_TRUE(daemon->WaitForExit(absl::Seconds(20)).ok());
  daemon.reset();
  started = DaemonProcess::Start({"--data-dir=" + data_dir()});
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(Listed(**started), accepted);
}

// A flipped byte inside a task id still parses as a request: only the checksum catches it.
TEST_F(JournalFaultsTest, ADamagedRecordThatStillParsesIsNotReplayedAndCheckJournalFailsOnIt) {
  const std::vector<std::string> flags = {"--data-dir=" + data_dir()};
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started = DaemonProcess::Start(flags);
  ASSERT_TRUE(started.ok()) << started.status();
  std::string damaged_id, intact_id;
  v1::SubmitBatchRequest damaged = EchoBatch(1);
  damaged.mutable_tasks(0)->set_id("flip-me");
  ASSERT_TRUE(Submit(**started, damaged, &damaged_id).ok());
  ASSERT_TRUE(Submit(**started, EchoBatch(2), &intact_id).ok());
  testing::WaitForBatchEnd(*(*started)->NewBatchStub(), damaged_id, absl::Seconds(30));
  testing::WaitForBatchEnd(*(*started)->NewBatchStub(), intact_id, absl::Seconds(30));
  ASSERT_TRUE((*started)->SendSignal(SIGTERM).ok());
  ASSERT_TRUE((*started)->WaitForExit(absl::Seconds(20)).ok());
  started->reset();

  const std::string batchd = DaemonProcess::BinaryPath();
  absl::StatusOr<testing::CommandResult> check = testing::RunCommand(
      {batchd, "--check-journal", "--data-dir=" + data_dir()}, absl::Seconds(30));
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->exit_code, 0) << check->stdout_text << check->stderr_text;
  EXPECT_THAT(check->stdout_text, HasSubstr("2 batches"));
  EXPECT_THAT(check->stdout_text, HasSubstr(": intact"));

  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data_dir() + "/journal.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* read = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "SELECT content FROM batches WHERE id = ?", -1, &read, nullptr),
        SQLITE_OK);
    sqlite3_bind_text(read, 1, damaged_id.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(read), SQLITE_ROW);
    std::string content(static_cast<const char*>(sqlite3_column_blob(read, 0)),
                        sqlite3_column_bytes(read, 0));
    sqlite3_finalize(read);
    const size_t at = content.find("flip-me");
    ASSERT_NE(at, std::string::npos);
    content[at] ^= 0x04;  // 'f' -> 'b': "blip-me", still a valid id
    sqlite3_stmt* write = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "UPDATE batches SET content = ? WHERE id = ?", -1, &write, nullptr),
        SQLITE_OK);
    sqlite3_bind_blob(write, 1, content.data(), static_cast<int>(content.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(write, 2, damaged_id.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(write), SQLITE_DONE);
    sqlite3_finalize(write);
    sqlite3_close(db);
  }

  check = testing::RunCommand({batchd, "--check-journal", "--data-dir=" + data_dir()},
                              absl::Seconds(30));
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->exit_code, 1);
  EXPECT_THAT(check->stdout_text, HasSubstr("batch " + damaged_id + ": DATA_LOSS: batch " +
                                            damaged_id + " (journal seq "));
  EXPECT_THAT(check->stdout_text, HasSubstr("its record fails its checksum"));
  EXPECT_THAT(check->stdout_text, HasSubstr("2 batches"));
  EXPECT_THAT(check->stdout_text, HasSubstr(": 1 damaged"));

  started = DaemonProcess::Start(flags);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<DaemonProcess> daemon = *std::move(started);
  EXPECT_THAT(daemon->Stderr(), HasSubstr("quick_check ok"));
  EXPECT_THAT(daemon->Stderr(), HasSubstr("journal: batch " + damaged_id +
                                          " not recovered (kept for a later start): DATA_LOSS"));
  grpc::ClientContext context;
  v1::GetBatchRequest get;
  get.set_batch_id(damaged_id);
  v1::GetBatchResponse response;
  EXPECT_EQ(daemon->NewBatchStub()->GetBatch(&context, get, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Listed(*daemon), std::set<std::string>{"2"});
  EXPECT_TRUE(Submit(*daemon, EchoBatch(3)).ok());  // and it serves
}

}  // namespace
}  // namespace batchd
