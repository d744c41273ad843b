// Callback workers as separate processes against the real daemon: the C++ test worker
// (tests/testing/test_worker.cc) and `batchctl worker`. Load-balancing distributions, a worker
// killed with SIGKILL mid-task, a worker that stops heartbeating, cancellation reaching the
// worker, and batchctl worker's command contract. Waits are bounded polls with generous limits.
#include <grpcpp/client_context.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::batchd::testing::ChildProcess;
using ::batchd::testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kPollTimeout = absl::Seconds(30);
constexpr std::chrono::seconds kCallTimeout{90};

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/batchd-", getpid(), "-", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

google::protobuf::Value Input(const std::string& key, double number) {
  google::protobuf::Value v;
  (*v.mutable_struct_value()->mutable_fields())[key].set_number_value(number);
  return v;
}

class WorkerProcessTest : public testing::DaemonTestBase {
 protected:
  std::vector<std::string> DaemonFlags() const override {
    return {"--worker-heartbeat-interval=400ms", "--worker-cancel-grace=2s"};
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& [name, worker] : workers_) {
        std::cerr << "worker " << name << " stderr:\n" << worker->Stderr();
      }
    }
    workers_.clear();
    for (const std::string& path : files_) std::remove(path.c_str());
    DaemonTestBase::TearDown();
  }

  // Starts a test worker named `name`; its events go to EventsPath(name).
  ChildProcess& StartTestWorker(const std::string& name, const std::string& executor,
                                std::vector<std::string> extra = {}) {
    const std::string events = EventsPath(name);
    std::vector<std::string> argv = {
        BATCHD_TEST_WORKER, "--addr", daemon_->address(), "--name", name,
        "--executor",       executor, "--events-file",    events};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Spawn(name, argv);
  }

  ChildProcess& Spawn(const std::string& name, const std::vector<std::string>& argv) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv);
    EXPECT_TRUE(child.ok()) << child.status();
    ChildProcess& ref = **child;
    workers_[name] = *std::move(child);
    return ref;
  }

  std::string EventsPath(const std::string& name) {
    std::string path = TempPath(absl::StrCat(name, ".events"));
    files_.push_back(path);
    return path;
  }

  // Polls ListExecutors until `executor` has `count` workers.
  bool WaitForWorkers(const std::string& executor, uint32_t count) {
    const absl::Time deadline = absl::Now() + kPollTimeout;
    while (absl::Now() < deadline) {
      grpc::ClientContext context;
      v1::ListExecutorsResponse response;
      if (batches_->ListExecutors(&context, {}, &response).ok()) {
        for (const v1::ExecutorInfo& e : response.executors()) {
          if (e.name() == executor && e.workers() == count) return true;
        }
        if (count == 0) {
          bool listed = false;
          for (const v1::ExecutorInfo& e : response.executors()) listed |= e.name() == executor;
          if (!listed) return true;
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Polls the events file until it has a line starting with `prefix`.
  bool WaitForEvent(const std::string& name, const std::string& prefix) {
    const absl::Time deadline = absl::Now() + kPollTimeout;
    const std::string path = TempPath(absl::StrCat(name, ".events"));
    while (absl::Now() < deadline) {
      for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
        if (absl::StartsWith(line, prefix)) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  v1::ProcessBatchResponse Process(const v1::ProcessBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    const grpc::Status status = batches_->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::string Submit(const v1::ProcessBatchRequest& process) {
    v1::SubmitBatchRequest request;
    *request.mutable_tasks() = process.tasks();
    *request.mutable_options() = process.options();
    grpc::ClientContext context;
    v1::SubmitBatchResponse response;
    const grpc::Status status = batches_->SubmitBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.batch_id();
  }

  v1::BatchSummary WaitFinished(const std::string& batch_id) {
    return testing::WaitForBatchEnd(*batches_, batch_id, kPollTimeout);
  }

  // Results per worker name (the part of worker_id before '#').
  static std::map<std::string, int> CountByWorker(const v1::BatchSummary& summary) {
    std::map<std::string, int> counts;
    for (const v1::TaskResult& r : summary.results()) {
      ++counts[r.worker_id().substr(0, r.worker_id().find('#'))];
    }
    return counts;
  }

  static v1::ProcessBatchRequest Batch(const std::string& executor, int n,
                                       v1::LoadBalancer balancer, uint32_t max_concurrent) {
    v1::ProcessBatchRequest request;
    request.mutable_options()->set_load_balancer(balancer);
    request.mutable_options()->set_max_concurrent(max_concurrent);
    for (int i = 0; i < n; ++i) {
      v1::Task* t = request.add_tasks();
      t->set_id(absl::StrCat("t", i));
      t->set_executor(executor);
    }
    return request;
  }

  std::map<std::string, std::unique_ptr<ChildProcess>> workers_;
  std::vector<std::string> files_;
};

TEST_F(WorkerProcessTest, RoundRobinSplitsFourTasksTwoAndTwo) {
  StartTestWorker("left", "rr", {"--slots", "4"});
  StartTestWorker("right", "rr", {"--slots", "4"});
  ASSERT_TRUE(WaitForWorkers("rr", 2));
  const v1::ProcessBatchResponse response =
      Process(Batch("rr", 4, v1::LOAD_BALANCER_ROUND_ROBIN, 4));
  EXPECT_EQ(response.summary().successful_count(), 4u);
  const std::map<std::string, int> counts = CountByWorker(response.summary());
  EXPECT_EQ(counts.at("left"), 2);
  EXPECT_EQ(counts.at("right"), 2);
}

TEST_F(WorkerProcessTest, WeightedSplitsThreeToOne) {
  StartTestWorker("heavy", "wt", {"--slots", "64", "--weight", "3"});
  StartTestWorker("light", "wt", {"--slots", "64", "--weight", "1"});
  ASSERT_TRUE(WaitForWorkers("wt", 2));
  const v1::ProcessBatchResponse response =
      Process(Batch("wt", 400, v1::LOAD_BALANCER_WEIGHTED, 32));
  EXPECT_EQ(response.summary().successful_count(), 400u);
  const std::map<std::string, int> counts = CountByWorker(response.summary());
  EXPECT_NEAR(counts.at("heavy"), 300, 20);
  EXPECT_NEAR(counts.at("light"), 100, 20);
}

TEST_F(WorkerProcessTest, LeastLoadedGivesMostTasksToTheFastWorker) {
  // Delays well above a worker's own per-task cost, which is tens of milliseconds in a
  // sanitizer build.
  StartTestWorker("fast", "ll", {"--slots", "2", "--delay-ms", "20"});
  StartTestWorker("slow", "ll", {"--slots", "2", "--delay-ms", "200"});
  ASSERT_TRUE(WaitForWorkers("ll", 2));
  const v1::ProcessBatchResponse response =
      Process(Batch("ll", 60, v1::LOAD_BALANCER_LEAST_LOADED, 4));
  EXPECT_EQ(response.summary().successful_count(), 60u);
  std::map<std::string, int> counts = CountByWorker(response.summary());
  // 10x faster: ideally 55 and 5. Anything clearly favouring the fast worker passes.
  EXPECT_GE(counts.at("fast"), 38);
  EXPECT_GT(counts.at("fast"), 2 * counts["slow"]);
}

TEST_F(WorkerProcessTest, TaskOfAWorkerKilledMidTaskCompletesOnAnotherOnce) {
  ChildProcess& doomed = StartTestWorker("doomed", "job", {"--delay-ms", "600000"});
  ASSERT_TRUE(WaitForWorkers("job", 1));
  v1::ProcessBatchRequest request = Batch("job", 1, v1::LOAD_BALANCER_LEAST_LOADED, 1);
  const std::string batch_id = Submit(request);
  ASSERT_TRUE(WaitForEvent("doomed", "assigned t0 "));
  StartTestWorker("survivor", "job");
  ASSERT_TRUE(WaitForWorkers("job", 2));
  ASSERT_TRUE(doomed.Signal(SIGKILL).ok());

  const v1::BatchSummary summary = WaitFinished(batch_id);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_THAT(summary.results(0).worker_id(), StartsWith("survivor#"));
  EXPECT_EQ(summary.results(0).retry_count(), 0u);
  EXPECT_TRUE(WaitForEvent("survivor", "assigned t0 "));
  EXPECT_THAT(daemon_->Stderr(), HasSubstr("doomed#"));
}

TEST_F(WorkerProcessTest, WorkerThatStopsHeartbeatingIsDropped) {
  StartTestWorker("mute", "quiet", {"--no-heartbeat"});
  ASSERT_TRUE(WaitForWorkers("quiet", 1));
  // 3 missed intervals of 400 ms; the worker reconnects afterwards, so look at the log.
  const absl::Time deadline = absl::Now() + kPollTimeout;
  while (absl::Now() < deadline &&
         daemon_->Stderr().find("gone: no heartbeat for") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(daemon_->Stderr(), HasSubstr("gone: no heartbeat for"));
}

TEST_F(WorkerProcessTest, CancelReachesTheWorker) {
  StartTestWorker("cw", "hangs");
  ASSERT_TRUE(WaitForWorkers("hangs", 1));
  v1::ProcessBatchRequest request = Batch("hangs", 1, v1::LOAD_BALANCER_LEAST_LOADED, 1);
  (*request.mutable_tasks(0)->mutable_input()->mutable_struct_value()->mutable_fields())["hang"]
      .set_bool_value(true);
  const std::string batch_id = Submit(request);
  ASSERT_TRUE(WaitForEvent("cw", "assigned t0 "));
  grpc::ClientContext context;
  v1::CancelBatchRequest cancel;
  cancel.set_batch_id(batch_id);
  v1::CancelBatchResponse cancelled;
  ASSERT_TRUE(batches_->CancelBatch(&context, cancel, &cancelled).ok());
  EXPECT_TRUE(WaitForEvent("cw", "cancel t0 "));
  EXPECT_EQ(WaitFinished(batch_id).state(), v1::BATCH_STATE_CANCELLED);
}

TEST_F(WorkerProcessTest, TestWorkerHonoursRetryAdviceAndNonRetryable) {
  StartTestWorker("adv", "advice");
  ASSERT_TRUE(WaitForWorkers("advice", 1));
  v1::ProcessBatchRequest request = Batch("advice", 2, v1::LOAD_BALANCER_LEAST_LOADED, 2);
  request.mutable_options()->mutable_retry_policy()->set_max_retries(3);
  *request.mutable_tasks(0)->mutable_input() = Input("retry_after_ms", 300);
  auto& fields =
      *request.mutable_tasks(1)->mutable_input()->mutable_struct_value()->mutable_fields();
  fields["fail"].set_string_value("no such user");
  fields["non_retryable"].set_bool_value(true);
  const absl::Time start = absl::Now();
  const v1::ProcessBatchResponse response = Process(request);
  // Three retries, each after the worker's 300 ms, whatever the policy's backoff says.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(850));
  std::map<std::string, v1::TaskResult> by_id;
  for (const v1::TaskResult& r : response.summary().results()) by_id[r.task_id()] = r;
  EXPECT_EQ(by_id["t0"].state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(by_id["t0"].retry_count(), 3u);
  EXPECT_EQ(by_id["t1"].state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(by_id["t1"].error(), "no such user");
  EXPECT_EQ(by_id["t1"].retry_count(), 0u);
}

TEST_F(WorkerProcessTest, BatchctlWorkerRunsACommandPerTask) {
  // stdin is the assignment as JSON; the command echoes it, so each output is the assignment.
  Spawn("batchctl", {BATCHCTL_BINARY, "--addr", daemon_->address(), "worker", "--executor", "cat",
                     "--slots", "2", "--", "cat"});
  Spawn("batchctl-fail", {BATCHCTL_BINARY, "--addr", daemon_->address(), "worker", "--executor",
                          "failing", "--", "sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"});
  ASSERT_TRUE(WaitForWorkers("cat", 1));
  ASSERT_TRUE(WaitForWorkers("failing", 1));
  v1::ProcessBatchRequest request;
  request.mutable_options()->mutable_retry_policy()->set_max_retries(0);
  v1::Task* a = request.add_tasks();
  a->set_id("a");
  a->set_executor("cat");
  *a->mutable_input() = Input("n", 5);
  v1::Task* b = request.add_tasks();
  b->set_id("b");
  b->set_executor("cat");
  b->add_dependencies("a");
  v1::Task* c = request.add_tasks();
  c->set_id("c");
  c->set_executor("failing");
  const v1::ProcessBatchResponse response = Process(request);
  std::map<std::string, v1::TaskResult> by_id;
  for (const v1::TaskResult& r : response.summary().results()) by_id[r.task_id()] = r;
  ASSERT_EQ(by_id["a"].state(), v1::TASK_STATE_SUCCEEDED);
  const auto& a_out = by_id["a"].output().struct_value().fields();
  EXPECT_EQ(a_out.at("task_id").string_value(), "a");
  EXPECT_EQ(a_out.at("input").struct_value().fields().at("n").number_value(), 5);
  ASSERT_EQ(by_id["b"].state(), v1::TASK_STATE_SUCCEEDED);
  const auto& b_deps = by_id["b"].output().struct_value().fields().at("dependency_outputs");
  EXPECT_EQ(
      b_deps.struct_value().fields().at("a").struct_value().fields().at("task_id").string_value(),
      "a");
  EXPECT_EQ(by_id["c"].state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(by_id["c"].error(), StartsWith("exit code 3"));
  EXPECT_THAT(by_id["c"].error(), HasSubstr("boom"));
}

TEST_F(WorkerProcessTest, ABatchctlWorkersCommandStreamsItsLinesAndSpawnsIntoItsBatch) {
  // The command prints a line, adds a task to its own batch (BATCHD_BATCH_ID, BATCHD_TASK_ID)
  // with `batchctl add`, waits until the reader has seen the line, then prints the last one.
  const std::string marker = absl::StrCat(::testing::TempDir(), "/line-seen-", getpid());
  const std::string script = absl::StrCat(
      "cat >/dev/null; echo \"planning $BATCHD_TASK_ID\"; "
      "echo '{\"tasks\": [{\"id\": \"child\", \"executor\": \"echo\", \"input\": 7}]}' | ",
      BATCHCTL_BINARY, " --addr ", daemon_->address(),
      " add \"$BATCHD_BATCH_ID\" - >/dev/null || exit 9; i=0; while [ ! -e ", marker,
      " ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo '{\"planned\": 1}'");
  Spawn("batchctl", {BATCHCTL_BINARY, "--addr", daemon_->address(), "worker", "--executor",
                     "planner", "--", "sh", "-c", script});
  ASSERT_TRUE(WaitForWorkers("planner", 1));
  v1::ProcessBatchRequest request;
  v1::Task* plan = request.add_tasks();
  plan->set_id("plan");
  plan->set_executor("planner");
  const std::string batch_id = Submit(request);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::StreamTaskOutputRequest follow;
  follow.set_batch_id(batch_id);
  follow.set_task_id("plan");
  auto reader = batches_->StreamTaskOutput(&context, follow);
  std::string text;
  bool streamed_before_the_end = false;
  v1::StreamTaskOutputResponse message;
  while (reader->Read(&message)) {
    text += message.data();
    if (text == "planning plan\n") {
      ASSERT_EQ(std::system(absl::StrCat("touch ", marker).c_str()), 0);  // NOLINT
      streamed_before_the_end = true;
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  std::remove(marker.c_str());
  EXPECT_TRUE(streamed_before_the_end);
  EXPECT_EQ(text, "planning plan\n{\"planned\": 1}\n");

  const v1::BatchSummary s = testing::WaitForBatchEnd(*batches_, batch_id, absl::Seconds(60));
  EXPECT_EQ(s.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(s.results_size(), 2);
  std::map<std::string, v1::TaskResult> by_id;
  for (const v1::TaskResult& r : s.results()) by_id[r.task_id()] = r;
  EXPECT_EQ(by_id["child"].output().number_value(), 7);
  // The output is still the whole stdout (not JSON as a whole here: a string).
  EXPECT_EQ(by_id["plan"].output().string_value(), "planning plan\n{\"planned\": 1}");
}

TEST_F(WorkerProcessTest, BatchctlWorkerReconnectsAfterTheDaemonRestarts) {
  const std::string address = daemon_->address();
  Spawn("batchctl",
        {BATCHCTL_BINARY, "--addr", address, "worker", "--executor", "again", "--", "cat"});
  ASSERT_TRUE(WaitForWorkers("again", 1));
  ASSERT_TRUE(daemon_->SendSignal(SIGKILL).ok());
  ASSERT_TRUE(daemon_->WaitForExit(absl::Seconds(30)).ok());
  absl::StatusOr<std::unique_ptr<DaemonProcess>> restarted =
      DaemonProcess::Start({absl::StrCat("--listen=", address)});
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  daemon_ = *std::move(restarted);
  batches_ = daemon_->NewBatchStub();
  EXPECT_TRUE(WaitForWorkers("again", 1));
  v1::ProcessBatchRequest request = Batch("again", 3, v1::LOAD_BALANCER_LEAST_LOADED, 3);
  EXPECT_EQ(Process(request).summary().successful_count(), 3u);
}

}  // namespace
}  // namespace batchd
