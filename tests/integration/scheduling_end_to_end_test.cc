// The scheduler as clients see it: real batchd, real timers, generated stubs. Timing bounds are
// generous (a busy 2-core machine may be building while this runs); waits are bounded polls.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr std::chrono::seconds kCallTimeout{60};
constexpr absl::Duration kPollTimeout = absl::Seconds(20);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

using Tasks = google::protobuf::RepeatedPtrField<v1::Task>;
using Results = google::protobuf::RepeatedPtrField<v1::TaskResult>;

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

v1::Task* AddTask(Tasks* tasks, const std::string& id, const std::string& executor,
                  std::vector<std::string> dependencies = {}) {
  v1::Task* task = tasks->Add();
  task->set_id(id);
  task->set_executor(executor);
  for (std::string& dependency : dependencies) task->add_dependencies(std::move(dependency));
  return task;
}

// A `sleep` task with input {"ms": ms}.
v1::Task* AddSleep(Tasks* tasks, const std::string& id, int ms,
                   std::vector<std::string> dependencies = {}) {
  v1::Task* task = AddTask(tasks, id, "sleep", std::move(dependencies));
  (*task->mutable_input()->mutable_struct_value()->mutable_fields())["ms"].set_number_value(ms);
  return task;
}

// A `fail` task with input {"error": error[, "succeed_on_attempt": k]}.
v1::Task* AddFail(Tasks* tasks, const std::string& id, const std::string& error,
                  int succeed_on_attempt = -1) {
  v1::Task* task = AddTask(tasks, id, "fail");
  auto& fields = *task->mutable_input()->mutable_struct_value()->mutable_fields();
  fields["error"].set_string_value(error);
  if (succeed_on_attempt >= 0) fields["succeed_on_attempt"].set_number_value(succeed_on_attempt);
  return task;
}

int64_t StartNanos(const v1::TaskResult& result) {
  return TimeUtil::TimestampToNanoseconds(result.started_at());
}
int64_t FinishNanos(const v1::TaskResult& result) {
  return TimeUtil::TimestampToNanoseconds(result.finished_at());
}

// The largest number of [started_at, finished_at) intervals that overlap at any instant.
int PeakConcurrency(const Results& results) {
  std::vector<std::pair<int64_t, int>> events;  // (time, +1 start / -1 finish)
  for (const v1::TaskResult& result : results) {
    events.emplace_back(StartNanos(result), +1);
    events.emplace_back(FinishNanos(result), -1);
  }
  // At equal times finishes (-1) sort before starts: the intervals are half-open.
  std::sort(events.begin(), events.end());
  int running = 0;
  int peak = 0;
  for (const auto& [time, delta] : events) {
    running += delta;
    peak = std::max(peak, running);
  }
  return peak;
}

const v1::TaskResult* FindResult(const Results& results, const std::string& id) {
  for (const v1::TaskResult& result : results) {
    if (result.task_id() == id) return &result;
  }
  return nullptr;
}

std::vector<std::string> ResultIds(const Results& results) {
  std::vector<std::string> ids;
  for (const v1::TaskResult& result : results) ids.push_back(result.task_id());
  return ids;
}

// Everything one StreamResults call delivered.
struct StreamCapture {
  std::vector<v1::StreamResultsResponse> messages;
  grpc::Status status;

  std::vector<std::string> ResultIds() const {
    std::vector<std::string> ids;
    for (const auto& message : messages) {
      for (const v1::TaskResult& result : message.results()) ids.push_back(result.task_id());
    }
    return ids;
  }
};

class SchedulerTest : public testing::DaemonTestBase {
 protected:
  grpc::Status Process(const v1::ProcessBatchRequest& request, v1::ProcessBatchResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return batches_->ProcessBatch(&context, request, response);
  }

  // ProcessBatch that must succeed as an RPC; the summary.
  v1::BatchSummary ProcessOk(const v1::ProcessBatchRequest& request) {
    v1::ProcessBatchResponse response;
    grpc::Status status = Process(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    EXPECT_EQ(response.summary().batch_id(), response.batch_id());
    return response.summary();
  }

  grpc::Status Submit(const v1::SubmitBatchRequest& request, v1::SubmitBatchResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return batches_->SubmitBatch(&context, request, response);
  }

  // SubmitBatch that must succeed; the batch id ("" on failure).
  std::string SubmitOk(const v1::SubmitBatchRequest& request) {
    v1::SubmitBatchResponse response;
    grpc::Status status = Submit(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    EXPECT_FALSE(response.batch_id().empty());
    return response.batch_id();
  }

  grpc::Status GetBatch(const std::string& id, v1::BatchSummary* summary) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetBatchRequest request;
    request.set_batch_id(id);
    v1::GetBatchResponse response;
    grpc::Status status = batches_->GetBatch(&context, request, &response);
    *summary = response.summary();
    return status;
  }

  grpc::Status GetProgress(const std::string& id, v1::BatchProgress* progress) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetProgressRequest request;
    request.set_batch_id(id);
    v1::GetProgressResponse response;
    grpc::Status status = batches_->GetProgress(&context, request, &response);
    *progress = response.progress();
    return status;
  }

  grpc::Status Cancel(const std::string& id, const std::string& reason,
                      v1::BatchProgress* progress) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::CancelBatchRequest request;
    request.set_batch_id(id);
    request.set_reason(reason);
    v1::CancelBatchResponse response;
    grpc::Status status = batches_->CancelBatch(&context, request, &response);
    *progress = response.progress();
    return status;
  }

  StreamCapture ReadStream(const std::string& id, uint64_t after_sequence = 0) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StreamResultsRequest request;
    request.set_batch_id(id);
    request.set_after_sequence(after_sequence);
    std::unique_ptr<grpc::ClientReader<v1::StreamResultsResponse>> reader =
        batches_->StreamResults(&context, request);
    StreamCapture capture;
    v1::StreamResultsResponse message;
    while (reader->Read(&message)) capture.messages.push_back(message);
    capture.status = reader->Finish();
    return capture;
  }

  // Polls GetBatch until the batch reached a final state; false on timeout.
  bool AwaitFinished(const std::string& id, v1::BatchSummary* summary,
                     absl::Duration timeout = kPollTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (!GetBatch(id, summary).ok()) return false;
      const v1::BatchState state = summary->state();
      if (state == v1::BATCH_STATE_SUCCEEDED || state == v1::BATCH_STATE_FAILED ||
          state == v1::BATCH_STATE_CANCELLED) {
        return true;
      }
      absl::SleepFor(kPollInterval);
    }
    return false;
  }
};

// Asserts a finished StreamResults capture: it ended OK and its last message carries the
// summary (state `state`, `total` tasks) and no results, and no earlier message has a summary.
void ExpectEndsWithSummary(const StreamCapture& capture, v1::BatchState state, uint32_t total) {
  EXPECT_TRUE(capture.status.ok())
      << capture.status.error_code() << ": " << capture.status.error_message();
  ASSERT_FALSE(capture.messages.empty());
  const v1::StreamResultsResponse& last = capture.messages.back();
  ASSERT_TRUE(last.has_summary()) << last.DebugString();
  EXPECT_THAT(last.results(), IsEmpty());
  EXPECT_EQ(last.summary().state(), state);
  EXPECT_EQ(last.summary().total_tasks(), total);
  for (size_t i = 0; i + 1 < capture.messages.size(); ++i) {
    EXPECT_FALSE(capture.messages[i].has_summary()) << "message " << i;
  }
}

// --- Concurrency, dataflow, retries, timeouts -------------------------------------------------

TEST_F(SchedulerTest, TenSleepsAtMaxConcurrentFiveRunInTwoWavesOfExactlyFive) {
  v1::ProcessBatchRequest request;
  for (int i = 0; i < 10; ++i) AddSleep(request.mutable_tasks(), absl::StrCat("t", i), 200);
  request.mutable_options()->set_max_concurrent(5);

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(summary.total_tasks(), 10u);
  EXPECT_EQ(summary.successful_count(), 10u);
  ASSERT_EQ(summary.results_size(), 10);
  EXPECT_GE(summary.total_duration_ms(), 380);
  EXPECT_LE(summary.total_duration_ms(), 1500);
  EXPECT_EQ(PeakConcurrency(summary.results()), 5) << summary.DebugString();
}

TEST_F(SchedulerTest, DiamondRunsBranchesInParallelAndJoinsAfterBoth) {
  v1::ProcessBatchRequest request;
  AddSleep(request.mutable_tasks(), "a", 100);
  AddSleep(request.mutable_tasks(), "b", 100, {"a"});
  AddSleep(request.mutable_tasks(), "c", 100, {"a"});
  AddSleep(request.mutable_tasks(), "d", 100, {"b", "c"});

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_GE(summary.total_duration_ms(), 290);
  EXPECT_LT(summary.total_duration_ms(), 1200);
  const v1::TaskResult* a = FindResult(summary.results(), "a");
  const v1::TaskResult* b = FindResult(summary.results(), "b");
  const v1::TaskResult* c = FindResult(summary.results(), "c");
  const v1::TaskResult* d = FindResult(summary.results(), "d");
  ASSERT_TRUE(a != nullptr && b != nullptr && c != nullptr && d != nullptr)
      << summary.DebugString();
  EXPECT_GE(StartNanos(*b), FinishNanos(*a));
  EXPECT_GE(StartNanos(*c), FinishNanos(*a));
  // b and c run at the same time: their intervals intersect.
  EXPECT_LT(StartNanos(*b), FinishNanos(*c)) << summary.DebugString();
  EXPECT_LT(StartNanos(*c), FinishNanos(*b)) << summary.DebugString();
  EXPECT_GE(StartNanos(*d), FinishNanos(*b));
  EXPECT_GE(StartNanos(*d), FinishNanos(*c));
}

TEST_F(SchedulerTest, FixedRetrySucceedsOnTheThirdAttempt) {
  v1::ProcessBatchRequest request;
  v1::Task* task = AddFail(request.mutable_tasks(), "flaky", "connection reset", 2);
  task->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
  task->mutable_retry_policy()->set_initial_delay_ms(100);

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(summary.results_size(), 1);
  const v1::TaskResult& result = summary.results(0);
  EXPECT_TRUE(result.success());
  EXPECT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(result.retry_count(), 2u);
  EXPECT_EQ(result.output().struct_value().fields().at("attempt").number_value(), 2)
      << result.DebugString();
  EXPECT_EQ(summary.retried_count(), 1u);
  EXPECT_GE(summary.total_duration_ms(), 200);
}

TEST_F(SchedulerTest, BatchRetryPolicyAppliesToItsTasks) {
  v1::ProcessBatchRequest request;
  AddFail(request.mutable_tasks(), "flaky", "try again", 2);
  request.mutable_options()->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
  request.mutable_options()->mutable_retry_policy()->set_initial_delay_ms(100);

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).retry_count(), 2u);
  EXPECT_GE(summary.total_duration_ms(), 200);
}

TEST_F(SchedulerTest, TimeoutCancelsTheAttemptWithTheExactError) {
  v1::ProcessBatchRequest request;
  AddSleep(request.mutable_tasks(), "slow", 1000)->set_timeout_ms(200);

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_FAILED);
  ASSERT_EQ(summary.results_size(), 1);
  const v1::TaskResult& result = summary.results(0);
  EXPECT_FALSE(result.success());
  EXPECT_EQ(result.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(result.error(), "Timeout after 200 ms");
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_GE(result.duration_ms(), 190);
  EXPECT_LE(result.duration_ms(), 900);
}

TEST_F(SchedulerTest, FailedTaskSkipsItsDependentAndFailsTheBatch) {
  v1::ProcessBatchRequest request;
  AddFail(request.mutable_tasks(), "a", "boom")
      ->mutable_retry_policy()
      ->set_kind(v1::RETRY_KIND_NONE);
  AddTask(request.mutable_tasks(), "b", "echo", {"a"});

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_FAILED);
  const v1::TaskResult* a = FindResult(summary.results(), "a");
  const v1::TaskResult* b = FindResult(summary.results(), "b");
  ASSERT_TRUE(a != nullptr && b != nullptr) << summary.DebugString();
  EXPECT_EQ(a->state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(a->error(), "boom");
  EXPECT_EQ(a->retry_count(), 0u);
  EXPECT_EQ(b->state(), v1::TASK_STATE_SKIPPED);
  EXPECT_FALSE(b->success());
  EXPECT_EQ(b->error(), "Skipped: dependency 'a' failed");
}

// --- Aggregation --------------------------------------------------------------------------------

// Completion order: "a2" (0 ms), "a10" (100), "a" (200), "B" (300); byte order: B, a, a10, a2.
void AddStaggeredSleeps(Tasks* tasks) {
  AddSleep(tasks, "a10", 100);
  AddSleep(tasks, "B", 300);
  AddSleep(tasks, "a2", 0);
  AddSleep(tasks, "a", 200);
}

TEST_F(SchedulerTest, OrderedAggregationSortsResultsByIdBytes) {
  v1::ProcessBatchRequest request;
  AddStaggeredSleeps(request.mutable_tasks());
  request.mutable_options()->set_aggregation(v1::AGGREGATION_ORDERED);

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_THAT(ResultIds(summary.results()), ElementsAre("B", "a", "a10", "a2"));
  // The completion order really was different.
  const v1::TaskResult* b = FindResult(summary.results(), "B");
  const v1::TaskResult* a2 = FindResult(summary.results(), "a2");
  ASSERT_TRUE(b != nullptr && a2 != nullptr);
  EXPECT_LT(FinishNanos(*a2), FinishNanos(*b));
}

TEST_F(SchedulerTest, PriorityAggregationSortsByPriorityDescendingThenId) {
  v1::ProcessBatchRequest request;
  AddSleep(request.mutable_tasks(), "x", 50)->set_priority(1);
  AddSleep(request.mutable_tasks(), "y", 150)->set_priority(5);
  AddSleep(request.mutable_tasks(), "w", 10)->set_priority(5);
  AddSleep(request.mutable_tasks(), "z", 100)->set_priority(9);
  AddSleep(request.mutable_tasks(), "v", 0)->set_priority(1);
  request.mutable_options()->set_aggregation(v1::AGGREGATION_PRIORITY);

  const v1::BatchSummary summary = ProcessOk(request);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_THAT(ResultIds(summary.results()), ElementsAre("z", "w", "y", "v", "x"));
}

TEST_F(SchedulerTest, OrderedResultStreamDeliversResultsInIdOrder) {
  v1::SubmitBatchRequest request;
  AddStaggeredSleeps(request.mutable_tasks());
  request.mutable_options()->set_aggregation(v1::AGGREGATION_ORDERED);
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());

  const StreamCapture capture = ReadStream(id);
  EXPECT_THAT(capture.ResultIds(), ElementsAre("B", "a", "a10", "a2"));
  ExpectEndsWithSummary(capture, v1::BATCH_STATE_SUCCEEDED, 4);
}

TEST_F(SchedulerTest, StreamingAggregationSendsOneResultPerMessage) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 6; ++i) AddTask(request.mutable_tasks(), absl::StrCat("e", i), "echo");
  request.mutable_options()->set_aggregation(v1::AGGREGATION_STREAMING);
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());
  v1::BatchSummary finished;
  ASSERT_TRUE(AwaitFinished(id, &finished));  // all 6 results available at once

  const StreamCapture capture = ReadStream(id);
  ExpectEndsWithSummary(capture, v1::BATCH_STATE_SUCCEEDED, 6);
  ASSERT_EQ(capture.messages.size(), 7u);
  for (size_t i = 0; i + 1 < capture.messages.size(); ++i) {
    EXPECT_EQ(capture.messages[i].results_size(), 1) << "message " << i;
    EXPECT_EQ(capture.messages[i].sequence(), i + 1) << "message " << i;
  }
  EXPECT_THAT(capture.ResultIds(),
              ::testing::UnorderedElementsAre("e0", "e1", "e2", "e3", "e4", "e5"));
}

// --- Result streams -----------------------------------------------------------------------------

TEST_F(SchedulerTest, StreamAttachedAfterCompletionGetsEveryResultThenTheSummary) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 5; ++i) AddSleep(request.mutable_tasks(), absl::StrCat("s", i), 10 * i);
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());
  v1::BatchSummary finished;
  ASSERT_TRUE(AwaitFinished(id, &finished));

  const StreamCapture capture = ReadStream(id);
  ExpectEndsWithSummary(capture, v1::BATCH_STATE_SUCCEEDED, 5);
  EXPECT_THAT(capture.ResultIds(), ::testing::UnorderedElementsAre("s0", "s1", "s2", "s3", "s4"));
  ASSERT_GE(capture.messages.size(), 2u);
  EXPECT_EQ(capture.messages[capture.messages.size() - 2].sequence(), 5u);
  const v1::BatchSummary& summary = capture.messages.back().summary();
  EXPECT_EQ(summary.batch_id(), id);
  EXPECT_EQ(summary.successful_count(), 5u);
}

TEST_F(SchedulerTest, StreamAfterSequenceThreeOfFiveGetsExactlyTheLastTwo) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 5; ++i) AddTask(request.mutable_tasks(), absl::StrCat("e", i), "echo");
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());
  v1::BatchSummary finished;
  ASSERT_TRUE(AwaitFinished(id, &finished));

  const StreamCapture all = ReadStream(id);
  const StreamCapture tail = ReadStream(id, 3);
  ExpectEndsWithSummary(tail, v1::BATCH_STATE_SUCCEEDED, 5);
  const std::vector<std::string> all_ids = all.ResultIds();
  ASSERT_EQ(all_ids.size(), 5u);
  EXPECT_THAT(tail.ResultIds(), ElementsAre(all_ids[3], all_ids[4]));
  ASSERT_GE(tail.messages.size(), 2u);
  EXPECT_EQ(tail.messages[tail.messages.size() - 2].sequence(), 5u);
}

TEST_F(SchedulerTest, TwoReadersAttachedWhileRunningBothGetEverything) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 8; ++i) AddSleep(request.mutable_tasks(), absl::StrCat("s", i), 50 + 40 * i);
  request.mutable_options()->set_max_concurrent(2);
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());

  StreamCapture first;
  std::thread other([&] { first = ReadStream(id); });
  const StreamCapture second = ReadStream(id);
  other.join();

  for (const StreamCapture* capture : {&std::as_const(first), &second}) {
    ExpectEndsWithSummary(*capture, v1::BATCH_STATE_SUCCEEDED, 8);
    EXPECT_THAT(capture->ResultIds(),
                ::testing::UnorderedElementsAre("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"));
  }
  EXPECT_EQ(first.ResultIds(), second.ResultIds()) << "one completion order for all readers";
  // Both attached while the batch ran (it takes most of a second, results ~40 ms apart), so
  // results came in several messages rather than one chunk after the end.
  EXPECT_GT(first.messages.size(), 2u);
  EXPECT_GT(second.messages.size(), 2u);
}

// --- Progress -----------------------------------------------------------------------------------

TEST_F(SchedulerTest, WatchProgressEndsWithSucceededAndEverythingCompleted) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 5; ++i) AddSleep(request.mutable_tasks(), absl::StrCat("s", i), 100);
  request.mutable_options()->set_max_concurrent(1);
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());

  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WatchProgressRequest watch;
  watch.set_batch_id(id);
  watch.set_min_interval_ms(20);
  auto reader = batches_->WatchProgress(&context, watch);
  std::vector<v1::BatchProgress> updates;
  v1::WatchProgressResponse response;
  while (reader->Read(&response)) updates.push_back(response.progress());
  const grpc::Status status = reader->Finish();

  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_GE(updates.size(), 2u) << "a 500 ms batch shows progress before it ends";
  for (size_t i = 1; i < updates.size(); ++i) {
    EXPECT_GE(updates[i].completed_tasks(), updates[i - 1].completed_tasks()) << "update " << i;
  }
  const v1::BatchProgress& last = updates.back();
  EXPECT_EQ(last.batch_id(), id);
  EXPECT_EQ(last.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(last.total_tasks(), 5u);
  EXPECT_EQ(last.completed_tasks(), last.total_tasks());
  EXPECT_EQ(last.successful_tasks(), 5u);
}

// --- Cancellation and unknown batches -----------------------------------------------------------

TEST_F(SchedulerTest, CancelMidRunCancelsEveryTaskQuickly) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 4; ++i) AddSleep(request.mutable_tasks(), absl::StrCat("s", i), 5000);
  const std::string id = SubmitOk(request);
  ASSERT_FALSE(id.empty());

  v1::BatchProgress progress;
  const absl::Time poll_deadline = absl::Now() + kPollTimeout;
  while (absl::Now() < poll_deadline) {
    ASSERT_TRUE(GetProgress(id, &progress).ok());
    if (progress.running_tasks() > 0) break;
    absl::SleepFor(kPollInterval);
  }
  ASSERT_GT(progress.running_tasks(), 0u) << progress.DebugString();

  const absl::Time cancelled_at = absl::Now();
  grpc::Status status = Cancel(id, "operator said stop", &progress);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(progress.batch_id(), id);

  v1::BatchSummary summary;
  ASSERT_TRUE(AwaitFinished(id, &summary, absl::Seconds(3)))
      << "not finished 3 s after CancelBatch: " << summary.DebugString();
  EXPECT_LT(absl::Now() - cancelled_at, absl::Milliseconds(3500));
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_CANCELLED);
  EXPECT_EQ(summary.cancel_reason(), "operator said stop");
  ASSERT_EQ(summary.results_size(), 4);
  for (const v1::TaskResult& result : summary.results()) {
    EXPECT_EQ(result.state(), v1::TASK_STATE_CANCELLED) << result.task_id();
    EXPECT_THAT(result.error(), StartsWith("Cancelled: ")) << result.task_id();
    EXPECT_EQ(result.error(), "Cancelled: operator said stop") << result.task_id();
  }

  status = Cancel(id, "again", &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(SchedulerTest, CancelOfAFinishedBatchIsFailedPrecondition) {
  v1::ProcessBatchRequest request;
  AddTask(request.mutable_tasks(), "a", "echo");
  const v1::BatchSummary summary = ProcessOk(request);
  ASSERT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);

  v1::BatchProgress progress;
  const grpc::Status status = Cancel(summary.batch_id(), "too late", &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(SchedulerTest, UnknownBatchIsNotFoundEverywhere) {
  const std::string id = "no-such-batch";
  const std::string message = "Batch 'no-such-batch' not found";

  v1::BatchSummary summary;
  grpc::Status status = GetBatch(id, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << "GetBatch";
  EXPECT_EQ(status.error_message(), message) << "GetBatch";

  v1::BatchProgress progress;
  status = GetProgress(id, &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << "GetProgress";
  EXPECT_EQ(status.error_message(), message) << "GetProgress";

  status = Cancel(id, "", &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << "CancelBatch";
  EXPECT_EQ(status.error_message(), message) << "CancelBatch";

  const StreamCapture capture = ReadStream(id);
  EXPECT_THAT(capture.messages, IsEmpty());
  EXPECT_EQ(capture.status.error_code(), grpc::StatusCode::NOT_FOUND) << "StreamResults";
  EXPECT_EQ(capture.status.error_message(), message) << "StreamResults";
}

// The field violations of a status's google.rpc.BadRequest details, as "field: description".
std::vector<std::string> Violations(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::BadRequest bad_request;
  if (!details.ParseFromString(status.error_details()) || details.details_size() != 1 ||
      !details.details(0).UnpackTo(&bad_request)) {
    return {"(no BadRequest details)"};
  }
  std::vector<std::string> out;
  for (const auto& v : bad_request.field_violations()) {
    out.push_back(absl::StrCat(v.field(), ": ", v.description()));
  }
  return out;
}

TEST_F(SchedulerTest, EmptyBatchIdIsInvalidArgumentEverywhere) {
  const std::string message = "batch_id is empty";
  const std::vector<std::string> violations = {"batch_id: batch_id is empty"};

  v1::BatchSummary summary;
  grpc::Status status = GetBatch("", &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "GetBatch";
  EXPECT_EQ(status.error_message(), message) << "GetBatch";
  EXPECT_EQ(Violations(status), violations) << "GetBatch";

  v1::BatchProgress progress;
  status = GetProgress("", &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "GetProgress";
  EXPECT_EQ(status.error_message(), message) << "GetProgress";
  EXPECT_EQ(Violations(status), violations) << "GetProgress";

  status = Cancel("", "why", &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "CancelBatch";
  EXPECT_EQ(status.error_message(), message) << "CancelBatch";
  EXPECT_EQ(Violations(status), violations) << "CancelBatch";

  const StreamCapture capture = ReadStream("");
  EXPECT_THAT(capture.messages, IsEmpty());
  EXPECT_EQ(capture.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "StreamResults";
  EXPECT_EQ(capture.status.error_message(), message) << "StreamResults";
  EXPECT_EQ(Violations(capture.status), violations) << "StreamResults";

  grpc::ClientContext context;
  SetDeadline(&context);
  auto watch = batches_->WatchProgress(&context, v1::WatchProgressRequest());
  v1::WatchProgressResponse update;
  EXPECT_FALSE(watch->Read(&update));
  status = watch->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "WatchProgress";
  EXPECT_EQ(status.error_message(), message) << "WatchProgress";
  EXPECT_EQ(Violations(status), violations) << "WatchProgress";
}

TEST_F(SchedulerTest, CancelReasonOverOneKibibyteIsInvalidArgument) {
  v1::SubmitBatchRequest request;
  AddSleep(request.mutable_tasks(), "a", 5000);
  const std::string id = SubmitOk(request);

  v1::BatchProgress progress;
  grpc::Status status = Cancel(id, std::string(1025, 'r'), &progress);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Cancel reason is 1025 bytes; the limit is 1024");
  EXPECT_THAT(Violations(status),
              ElementsAre("reason: Cancel reason is 1025 bytes; the limit is 1024"));

  status = Cancel(id, std::string(1024, 'r'), &progress);
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  v1::BatchSummary summary;
  ASSERT_TRUE(AwaitFinished(id, &summary));
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_CANCELLED);
  EXPECT_EQ(summary.cancel_reason(), std::string(1024, 'r'));
}

// --- Submission and listing ---------------------------------------------------------------------

TEST_F(SchedulerTest, SubmitBatchReturnsTheLayers) {
  v1::SubmitBatchRequest request;
  AddTask(request.mutable_tasks(), "a", "echo");
  AddTask(request.mutable_tasks(), "b", "echo", {"a"});
  AddTask(request.mutable_tasks(), "c", "echo", {"a"});
  AddTask(request.mutable_tasks(), "d", "echo", {"b", "c"});

  v1::SubmitBatchResponse response;
  const grpc::Status status = Submit(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_FALSE(response.batch_id().empty());
  std::vector<std::vector<std::string>> layers;
  for (const v1::Layer& layer : response.layers()) {
    layers.emplace_back(layer.task_ids().begin(), layer.task_ids().end());
  }
  EXPECT_THAT(layers, ElementsAre(ElementsAre("a"), ElementsAre("b", "c"), ElementsAre("d")));
}

TEST_F(SchedulerTest, ListBatchesIsNewestFirst) {
  std::vector<std::string> submitted;
  for (int i = 0; i < 3; ++i) {
    v1::SubmitBatchRequest request;
    AddTask(request.mutable_tasks(), "a", "echo");
    submitted.push_back(SubmitOk(request));
  }
  ASSERT_THAT(submitted, ::testing::Each(::testing::Not(IsEmpty())));
  const std::vector<std::string> newest_first(submitted.rbegin(), submitted.rend());

  for (uint32_t limit : {0u, 2u}) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListBatchesRequest request;
    request.set_limit(limit);
    v1::ListBatchesResponse response;
    const grpc::Status status = batches_->ListBatches(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    std::vector<std::string> ids;
    for (const v1::BatchProgress& batch : response.batches()) ids.push_back(batch.batch_id());
    const size_t expected = limit == 0 ? newest_first.size() : limit;
    EXPECT_THAT(ids, ElementsAreArray(newest_first.begin(),
                                      newest_first.begin() + static_cast<std::ptrdiff_t>(expected)))
        << "limit " << limit;
  }
}

TEST_F(SchedulerTest, MaxConcurrentZeroIsInvalidArgument) {
  v1::SubmitBatchRequest request;
  AddTask(request.mutable_tasks(), "a", "echo");
  request.mutable_options()->set_max_concurrent(0);

  v1::SubmitBatchResponse response;
  const grpc::Status status = Submit(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "max_concurrent must be greater than 0");
}

}  // namespace
}  // namespace batchd
