// Crash test: batches are submitted with request ids while batchd is killed with SIGKILL at
// random moments and restarted on the same data directory. Afterwards every acknowledged batch
// exists exactly once with exactly one final result per task, resubmitting any request id
// with the same content returns the batch id it got first, and result streams read across
// the restarts saw each result once at contiguous sequence numbers.
// BATCHD_CRASH_KILLS (default 20) and BATCHD_CRASH_SEED (default: random, printed) by hand.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using ::testing::ElementsAreArray;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// One submission the test made: the request (resent unchanged) and what it was told.
struct Submission {
  v1::SubmitBatchRequest request;
  std::vector<std::string> task_ids;
  bool expect_failed = false;  // it has a task that always fails
  std::string batch_id;        // set once acknowledged
  // The StreamResults reader that follows it across restarts.
  uint64_t read_sequence = 0;
  std::vector<std::string> read_ids;
};

v1::SubmitBatchRequest MakeRequest(int n, std::mt19937& rng, Submission& s) {
  v1::SubmitBatchRequest request;
  request.set_request_id(absl::StrCat("crash-", n, "-", rng()));
  const int tasks = 1 + static_cast<int>(rng() % 12);
  const bool chain = rng() % 2 == 0;
  for (int i = 0; i < tasks; ++i) {
    v1::Task* t = request.add_tasks();
    t->set_id(absl::StrCat("t", i));
    s.task_ids.push_back(t->id());
    auto& fields = *t->mutable_input()->mutable_struct_value()->mutable_fields();
    switch (rng() % 4) {
      case 0:
        t->set_executor("echo");
        fields["i"].set_number_value(i);
        break;
      case 1:
      case 2:
        t->set_executor("sleep");
        fields["ms"].set_number_value(static_cast<double>(5 + rng() % 80));
        break;
      case 3:
        // Succeeds on its third attempt: retries (and their delays) span kills.
        t->set_executor("fail");
        fields["succeed_on_attempt"].set_number_value(2);
        t->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
        t->mutable_retry_policy()->set_initial_delay_ms(40);
        t->mutable_retry_policy()->set_max_retries(5);
        break;
    }
    if (chain && i > 0) t->add_dependencies(absl::StrCat("t", i - 1));
  }
  if (rng() % 5 == 0) {
    v1::Task* t = request.add_tasks();
    t->set_id("always-fails");
    t->set_executor("fail");
    t->mutable_retry_policy()->set_kind(v1::RETRY_KIND_NONE);
    s.task_ids.push_back(t->id());
    s.expect_failed = true;
  }
  request.mutable_options()->set_max_concurrent(4);
  return request;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-crash");
    ASSERT_TRUE(dir.ok());
    data_dir_ = *dir;
  }
  void TearDown() override { testing::RemoveTree(data_dir_); }

  std::unique_ptr<testing::DaemonProcess> StartDaemon() {
    absl::StatusOr<std::unique_ptr<testing::DaemonProcess>> d = testing::DaemonProcess::Start(
        {"--data-dir=" + data_dir_, "--log-level=warn", "--max-running=64"});
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  // Sends `s` (again); records its batch id or checks it is the one acknowledged before.
  // False when the daemon did not answer OK (it was killed, or is not up).
  bool Send(v1::BatchService::Stub& stub, Submission& s, absl::Duration timeout) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::SubmitBatchResponse response;
    const grpc::Status status = stub.SubmitBatch(&context, s.request, &response);
    if (!status.ok()) {
      const auto code = status.error_code();
      EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE ||
                  code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                  code == grpc::StatusCode::CANCELLED)
          << "unexpected " << code << ": " << status.error_message();
      return false;
    }
    absl::MutexLock lock(&mu_);
    if (s.batch_id.empty()) {
      s.batch_id = response.batch_id();
      ++acknowledged_;
    } else {
      EXPECT_EQ(response.batch_id(), s.batch_id) << s.request.request_id();
    }
    return true;
  }

  // Follows `s`'s results from where its reader stopped; false when the stream broke.
  bool Follow(v1::BatchService::Stub& stub, Submission& s, absl::Duration timeout) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::StreamResultsRequest request;
    request.set_batch_id(s.batch_id);
    request.set_after_sequence(s.read_sequence);
    std::unique_ptr<grpc::ClientReader<v1::StreamResultsResponse>> reader =
        stub.StreamResults(&context, request);
    v1::StreamResultsResponse message;
    bool ended = false;
    while (reader->Read(&message)) {
      if (message.has_summary()) {
        ended = true;
        continue;
      }
      // Sequences continue without a gap or repeat, across restarts too.
      EXPECT_EQ(message.sequence(), s.read_sequence + message.results_size());
      for (const v1::TaskResult& r : message.results()) s.read_ids.push_back(r.task_id());
      s.read_sequence = message.sequence();
    }
    const grpc::Status status = reader->Finish();
    return status.ok() && ended;
  }

  std::string data_dir_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Submission>> submissions_;  // appended under mu_
  int acknowledged_ = 0;
};

TEST_F(CrashTest, AcknowledgedBatchesSurviveKillsWithOneResultPerTask) {
  const int kills = EnvInt("BATCHD_CRASH_KILLS", 20);
  const unsigned seed =
      static_cast<unsigned>(EnvInt("BATCHD_CRASH_SEED", static_cast<int>(std::random_device{}())));
  std::cout << "crash test: seed " << seed << " (BATCHD_CRASH_SEED), " << kills << " kills\n";
  std::mt19937 rng(seed);
  int next = 0;

  for (int round = 0; round < kills; ++round) {
    std::unique_ptr<testing::DaemonProcess> daemon = StartDaemon();
    ASSERT_NE(daemon, nullptr) << "round " << round;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 3; ++c) {
      const unsigned client_seed = rng();
      clients.emplace_back([&, c, client_seed] {
        std::mt19937 local(client_seed);
        std::unique_ptr<v1::BatchService::Stub> stub = daemon->NewBatchStub();
        if (c == 0) {
          // Resends earlier submissions (acknowledged or not) and follows some streams.
          std::vector<Submission*> earlier;
          {
            absl::MutexLock lock(&mu_);
            for (auto& s : submissions_) earlier.push_back(s.get());
          }
          std::shuffle(earlier.begin(), earlier.end(), local);
          for (Submission* s : earlier) {
            if (stop.load()) return;
            if (!Send(*stub, *s, absl::Seconds(5))) return;
            if (local() % 3 == 0 && !Follow(*stub, *s, absl::Milliseconds(300))) continue;
          }
          return;
        }
        while (!stop.load()) {
          auto s = std::make_unique<Submission>();
          int n;
          {
            absl::MutexLock lock(&mu_);
            n = next++;
          }
          s->request = MakeRequest(n, local, *s);
          Submission* raw = s.get();
          {
            absl::MutexLock lock(&mu_);
            submissions_.push_back(std::move(s));
          }
          if (!Send(*stub, *raw, absl::Seconds(5))) return;
          absl::SleepFor(absl::Milliseconds(local() % 20));  // a few hundred batches a round
        }
      });
    }
    // Kill at a random moment: early (start-up, recovery) to late (busy).
    absl::SleepFor(absl::Milliseconds(50 + rng() % 900));
    ASSERT_TRUE(daemon->SendSignal(SIGKILL).ok());
    absl::StatusOr<int> exit = daemon->WaitForExit(absl::Seconds(10));
    ASSERT_TRUE(exit.ok());
    EXPECT_EQ(*exit, 128 + SIGKILL);
    stop = true;
    for (std::thread& t : clients) t.join();
  }

  // Last start: every submission is resent; everything must finish.
  std::unique_ptr<testing::DaemonProcess> daemon = StartDaemon();
  ASSERT_NE(daemon, nullptr);
  std::unique_ptr<v1::BatchService::Stub> stub = daemon->NewBatchStub();
  // Every client thread has ended: no lock needed (Send takes it).
  const int acknowledged_before = acknowledged_;
  size_t tasks_checked = 0;
  std::set<std::string> batch_ids;
  for (auto& s : submissions_) {
    const std::string before = s->batch_id;
    ASSERT_TRUE(Send(*stub, *s, absl::Seconds(30))) << s->request.request_id();
    if (!before.empty()) {
      EXPECT_EQ(s->batch_id, before);
    }
    EXPECT_TRUE(batch_ids.insert(s->batch_id).second) << "two submissions share " << s->batch_id;
  }
  for (auto& s : submissions_) {
    // The stream continues where its reader stopped before the kills.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!Follow(*stub, *s, absl::Seconds(30))) {
      ASSERT_LT(absl::Now(), deadline) << "batch " << s->batch_id << " never finished";
    }
    std::vector<std::string> read = s->read_ids;
    std::sort(read.begin(), read.end());
    std::vector<std::string> expected = s->task_ids;
    std::sort(expected.begin(), expected.end());
    EXPECT_THAT(read, ElementsAreArray(expected)) << "stream of " << s->batch_id;

    grpc::ClientContext context;
    v1::GetBatchRequest request;
    request.set_batch_id(s->batch_id);
    v1::GetBatchResponse response;
    ASSERT_TRUE(stub->GetBatch(&context, request, &response).ok());
    const v1::BatchSummary& summary = response.summary();
    EXPECT_EQ(summary.state(),
              s->expect_failed ? v1::BATCH_STATE_FAILED : v1::BATCH_STATE_SUCCEEDED)
        << s->batch_id;
    std::vector<std::string> ids;
    for (const v1::TaskResult& r : summary.results()) {
      ids.push_back(r.task_id());
      const v1::TaskState expected_state =
          r.task_id() == "always-fails" ? v1::TASK_STATE_FAILED : v1::TASK_STATE_SUCCEEDED;
      EXPECT_EQ(r.state(), expected_state)
          << s->batch_id << " " << r.task_id() << ": " << r.error();
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_THAT(ids, ElementsAreArray(expected)) << "results of " << s->batch_id;
    tasks_checked += ids.size();
  }
  grpc::ClientContext context;
  v1::ListBatchesResponse listed;
  ASSERT_TRUE(stub->ListBatches(&context, v1::ListBatchesRequest(), &listed).ok());
  EXPECT_EQ(static_cast<size_t>(listed.batches_size()), batch_ids.size());
  std::cout << "crash test: " << kills << " kills, " << submissions_.size() << " batches ("
            << acknowledged_before << " acknowledged before the last start), " << tasks_checked
            << " tasks checked, each with exactly one final result\n";
  EXPECT_GE(kills, 20);
}

}  // namespace
}  // namespace batchd
