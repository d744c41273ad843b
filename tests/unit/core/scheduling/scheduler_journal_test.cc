// The scheduler with a journal: what readers see before and after records are durable, and
// restarts from what the journal stored (interrupted attempts, retry delays, idempotency).
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>

#include "core/executors/builtin_executors.h"
#include "core/scheduling/scheduler.h"
#include "core/workers/worker_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_journal.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/manual_executor.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TaskSpec Task(std::string id, std::string executor, std::vector<std::string> deps = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = std::move(executor);
  t.input = boost::json::object{{"id", t.id}};
  t.dependencies = std::move(deps);
  return t;
}

// One daemon "process": its own loop, timers, executors and scheduler over a shared clock and
// journal, so a test can drop it (a crash) and start another from what was stored.
struct Process {
  Process(testing::FakeClock& clock, Journal& journal)
      : strand(boost::asio::make_strand(io)),
        timers(clock, io, strand),
        hub(strand, clock, timers, registry, WorkerHubOptions{}) {
    EXPECT_TRUE(RegisterBuiltinExecutors(registry, clock, timers).ok());
    auto executor = std::make_unique<testing::ManualExecutor>(clock);
    manual = executor.get();
    EXPECT_TRUE(registry.Register({"manual", "builtin", 0, 0}, std::move(executor)).ok());
    SchedulerOptions options;
    options.journal = &journal;
    scheduler = std::make_unique<Scheduler>(strand, clock, timers, registry, options);
    hub.SetCapacityListener(scheduler.get());
  }

  boost::asio::io_context io;
  testing::FakeTimerService::Strand strand;
  testing::FakeTimerService timers;
  ExecutorRegistry registry;
  WorkerHub hub;  // makes executors for callback workers on demand
  testing::ManualExecutor* manual = nullptr;
  std::unique_ptr<Scheduler> scheduler;
};

class SchedulerJournalTest : public ::testing::Test {
 protected:
  SchedulerJournalTest() {
    spdlog::set_level(spdlog::level::warn);
    process_ = std::make_unique<Process>(clock_, journal_);
  }

  Scheduler& scheduler() { return *process_->scheduler; }
  testing::ManualExecutor& manual() { return *process_->manual; }
  void Poll() { process_->timers.Poll(); }
  void Advance(int ms) { process_->timers.Advance(milliseconds(ms)); }

  // `content` stands for the server's encoded request: here a key to the spec kept aside.
  absl::StatusOr<SubmitResult> SubmitAs(BatchSpec spec, std::string content) {
    specs_[content] = spec;
    absl::StatusOr<SubmitResult> r = scheduler().Submit(std::move(spec), false, content);
    Poll();
    return r;
  }
  // Submits and makes the batch's record durable, so it is admitted and starts.
  std::string Submit(BatchSpec spec) {
    absl::StatusOr<SubmitResult> r = SubmitAs(std::move(spec), "batch" + std::to_string(++n_));
    EXPECT_TRUE(r.ok()) << r.status();
    journal_.CommitBatches();
    Poll();
    return r.ok() ? r->batch_id : "";
  }
  void Commit() {
    journal_.Commit();
    Poll();
  }

  // Drops the process without any shutdown (kill -9) and starts a new one from the journal.
  void Crash() {
    process_.reset();
    process_ = std::make_unique<Process>(clock_, journal_);
    for (StoredBatch& b : journal_.Stored()) {
      RecoveredBatch recovered{specs_.at(b.record.content), b.record, {}};
      absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(b.events);
      ASSERT_TRUE(events.ok()) << events.status();
      for (JournalEvent& e : *events) {  // what the server's recovery decodes
        if (e.kind == JournalEventKind::kAdded) {
          e.added_tasks = std::make_shared<std::vector<TaskSpec>>(added_.at(e.content));
        }
      }
      recovered.events = *std::move(events);
      ASSERT_TRUE(scheduler().Restore(std::move(recovered)).ok());
    }
    Poll();
  }

  // Results readable now from `cursor` on (following chunks until the reader would wait).
  std::vector<std::string> Read(const std::string& id, uint64_t& cursor,
                                std::optional<BatchSummary>* summary = nullptr) {
    std::vector<std::string> ids;
    while (true) {
      auto slot = std::make_shared<std::optional<absl::StatusOr<ResultChunk>>>();
      scheduler().ReadResults(id, cursor,
                              [slot](absl::StatusOr<ResultChunk> c) { *slot = std::move(c); });
      Poll();
      if (!slot->has_value()) return ids;
      EXPECT_TRUE((*slot)->ok()) << (*slot)->status();
      if (!(*slot)->ok()) return ids;
      for (const TaskResult* r : (**slot)->results) ids.push_back(*r->task_id);
      cursor = (**slot)->last_sequence;
      if ((**slot)->summary.has_value()) {
        if (summary != nullptr) *summary = (**slot)->summary;
        return ids;
      }
    }
  }
  size_t Listed() {
    size_t n = 0;
    scheduler().ListBatches(0, [&](std::vector<BatchProgress> all) { n = all.size(); });
    Poll();
    return n;
  }
  BatchSummary Summary(const std::string& id) {
    std::optional<absl::StatusOr<BatchSummary>> out;
    scheduler().GetSummary(id, [&](absl::StatusOr<BatchSummary> s) { out = std::move(s); });
    Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchSummary{};
  }
  static const TaskResult* ResultOf(const BatchSummary& s, const std::string& id) {
    for (const TaskResult* r : s.results) {
      if (*r->task_id == id) return r;
    }
    return nullptr;
  }

  testing::FakeClock clock_;
  testing::FakeJournal journal_;
  std::unique_ptr<Process> process_;
  std::map<std::string, BatchSpec> specs_;
  std::map<std::string, std::vector<TaskSpec>> added_;  // AddTasks content -> its tasks
  int n_ = 0;
};

TEST_F(SchedulerJournalTest, ResultsAndTheEndAreReadableOnlyOnceDurable) {
  BatchSpec spec;
  spec.tasks = {Task("a", "echo"), Task("b", "echo")};
  const std::string id = Submit(std::move(spec));
  std::optional<absl::StatusOr<BatchSummary>> completion;
  scheduler().WaitForCompletion(id, [&](absl::StatusOr<BatchSummary> s) { completion = s; });
  uint64_t cursor = 0;
  EXPECT_THAT(Read(id, cursor), ElementsAre());
  EXPECT_FALSE(completion.has_value());
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);  // snapshots are not held back

  Commit();
  std::optional<BatchSummary> summary;
  EXPECT_THAT(Read(id, cursor, &summary), ElementsAre("a", "b"));
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->state, BatchState::kSucceeded);
  ASSERT_TRUE(completion.has_value() && completion->ok());
  EXPECT_EQ((*completion)->successful_count, 2u);
}

TEST_F(SchedulerJournalTest, FinalProgressWaitsUntilTheEndIsDurable) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual")};
  const std::string id = Submit(std::move(spec));
  std::optional<absl::StatusOr<ProgressUpdate>> first;
  scheduler().WatchProgress(id, 0, SteadyTime{},
                            [&](absl::StatusOr<ProgressUpdate> u) { first = u; });
  Poll();
  ASSERT_TRUE(first.has_value() && first->ok());
  EXPECT_EQ((*first)->progress.state, BatchState::kRunning);
  EXPECT_FALSE((*first)->final);
  ASSERT_TRUE(manual().Finish("a", ExecutionOutcome::Success(nullptr)));
  Poll();
  // Finished in memory, not yet durable: the reader gets no update with a final state.
  std::optional<absl::StatusOr<ProgressUpdate>> last;
  scheduler().WatchProgress(id, (*first)->version, SteadyTime{},
                            [&](absl::StatusOr<ProgressUpdate> u) { last = u; });
  Poll();
  EXPECT_FALSE(last.has_value());
  Commit();
  ASSERT_TRUE(last.has_value() && last->ok());
  EXPECT_EQ((*last)->progress.state, BatchState::kSucceeded);
  EXPECT_TRUE((*last)->final);
}

TEST_F(SchedulerJournalTest, SubmitIsDurableOnlyAfterTheJournalCommits) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual")};
  absl::StatusOr<SubmitResult> r = SubmitAs(std::move(spec), "one");
  ASSERT_TRUE(r.ok());
  bool durable = false;
  scheduler().WhenDurable(*r, [&](absl::Status s) { durable = s.ok(); });
  EXPECT_FALSE(durable);
  Commit();
  EXPECT_TRUE(durable);
}

TEST_F(SchedulerJournalTest, ABatchRunsAndIsListedOnlyOnceItsRecordIsDurable) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual")};
  absl::StatusOr<SubmitResult> r = SubmitAs(std::move(spec), "one");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
  EXPECT_EQ(Listed(), 0u);
  journal_.CommitBatches();
  Poll();
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));
  EXPECT_EQ(Listed(), 1u);
}

// A full disk: the answer says the batch was not accepted, and it is so — nothing of it ran,
// nothing lists it, and its request_id may be used again (even with other content).
TEST_F(SchedulerJournalTest, ABatchWhoseRecordCannotBeStoredNeverRunsAndItsRequestIdIsFree) {
  BatchSpec spec;
  spec.request_id = "req-full";
  spec.tasks = {Task("a", "manual")};
  absl::StatusOr<SubmitResult> first = SubmitAs(spec, "content-1");
  ASSERT_TRUE(first.ok());
  absl::StatusOr<SubmitResult> twin = SubmitAs(spec, "content-1");  // while the first waits
  ASSERT_TRUE(twin.ok());
  EXPECT_TRUE(twin->duplicate);
  std::vector<absl::Status> answers;
  scheduler().WhenDurable(*first, [&](absl::Status s) { answers.push_back(s); });
  scheduler().WhenDurable(*twin, [&](absl::Status s) { answers.push_back(s); });
  journal_.Fail(absl::UnavailableError("batch not accepted: disk full"));
  Poll();
  ASSERT_EQ(answers.size(), 2u);
  for (const absl::Status& a : answers) {
    EXPECT_EQ(a.code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(a.message(), "batch not accepted: disk full");
  }
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
  EXPECT_EQ(Listed(), 0u);
  std::optional<absl::Status> lookup;
  scheduler().GetSummary(first->batch_id,
                         [&](absl::StatusOr<BatchSummary> s) { lookup = s.status(); });
  Poll();
  ASSERT_TRUE(lookup.has_value());
  EXPECT_EQ(lookup->code(), absl::StatusCode::kNotFound);

  absl::StatusOr<SubmitResult> retry = SubmitAs(spec, "content-2");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->duplicate);
  EXPECT_NE(retry->batch_id, first->batch_id);
  journal_.CommitBatches();
  Poll();
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));
  EXPECT_EQ(Listed(), 1u);
}

TEST_F(SchedulerJournalTest, CrashRerunsInterruptedAttemptsCountedAndKeepsFinishedResults) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual"), Task("b", "manual"), Task("c", "manual", {"a"})};
  const std::string id = Submit(std::move(spec));
  ASSERT_TRUE(manual().Finish("b", ExecutionOutcome::Success("b-out")));
  Poll();
  Commit();
  uint64_t cursor = 0;
  EXPECT_THAT(Read(id, cursor), ElementsAre("b"));
  EXPECT_EQ(cursor, 1u);

  Crash();
  // Only `a` runs again, as its second attempt; `b` is not re-run.
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));
  EXPECT_EQ(manual().attempts()[0].attempt, 1u);
  ASSERT_TRUE(manual().Finish("a", ExecutionOutcome::Success("a-out")));
  Poll();
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a", "c"));
  ASSERT_TRUE(manual().Finish("c", ExecutionOutcome::Success("c-out")));
  Poll();
  Commit();
  // The reader continues after the sequence it had before the crash.
  std::optional<BatchSummary> summary;
  EXPECT_THAT(Read(id, cursor, &summary), ElementsAre("a", "c"));
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->state, BatchState::kSucceeded);
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.successful_count, 3u);
  EXPECT_EQ(s.retried_count, 1u);
  ASSERT_NE(ResultOf(s, "b"), nullptr);
  EXPECT_EQ(ResultOf(s, "b")->output, "b-out");
  EXPECT_EQ(ResultOf(s, "a")->retry_count, 1u);
}

TEST_F(SchedulerJournalTest, WhatWasNotDurableIsRedoneAfterACrash) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual")};
  const std::string id = Submit(std::move(spec));
  Commit();
  ASSERT_TRUE(manual().Finish("a", ExecutionOutcome::Success("lost")));
  Poll();  // finished in memory, never committed
  Crash();
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));
  ASSERT_TRUE(manual().Finish("a", ExecutionOutcome::Success("kept")));
  Poll();
  Commit();
  const BatchSummary s = Summary(id);
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0]->output, "kept");
}

TEST_F(SchedulerJournalTest, UncommittedBatchIsGoneAfterACrash) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual")};
  absl::StatusOr<SubmitResult> r = SubmitAs(std::move(spec), "uncommitted");
  ASSERT_TRUE(r.ok());
  const std::string id = r->batch_id;
  Crash();
  std::optional<absl::Status> status;
  scheduler().GetSummary(id, [&](absl::StatusOr<BatchSummary> s) { status = s.status(); });
  Poll();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerJournalTest, RetryDelayResumesWithWhatRemained) {
  BatchSpec spec;
  TaskSpec t = Task("a", "manual");
  RetryPolicySpec retry;
  retry.kind = RetryKind::kFixed;
  retry.initial_delay_ms = 1000;
  retry.max_retries = 2;
  t.retry_policy = retry;
  spec.tasks = {t};
  const std::string id = Submit(std::move(spec));
  ExecutionOutcome failure;
  failure.error = "boom";
  ASSERT_TRUE(manual().Finish("a", failure));
  Advance(400);
  Commit();
  Crash();
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
  Advance(599);
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
  Advance(1);
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));
  EXPECT_EQ(manual().attempts()[0].attempt, 1u);
  ASSERT_TRUE(manual().Finish("a", ExecutionOutcome::Success(nullptr)));
  Poll();
  Commit();
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
}

TEST_F(SchedulerJournalTest, SameRequestIdAndContentGiveTheSameBatchAcrossACrash) {
  BatchSpec spec;
  spec.request_id = "req-1";
  spec.tasks = {Task("a", "manual")};
  absl::StatusOr<SubmitResult> first = SubmitAs(spec, "content-1");
  ASSERT_TRUE(first.ok());
  journal_.CommitBatches();
  Poll();
  absl::StatusOr<SubmitResult> again = SubmitAs(spec, "content-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->batch_id, first->batch_id);
  EXPECT_TRUE(again->duplicate);
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));  // nothing new runs

  absl::StatusOr<SubmitResult> other = SubmitAs(spec, "content-2");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(other.status().message(), "request_id 'req-1' was already used for batch " +
                                          first->batch_id +
                                          " with different content; use a new request_id");

  Commit();
  Crash();
  absl::StatusOr<SubmitResult> after = SubmitAs(spec, "content-1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->batch_id, first->batch_id);
  bool durable = false;
  scheduler().WhenDurable(*after, [&](absl::Status s) { durable = s.ok(); });
  EXPECT_TRUE(durable);
  EXPECT_EQ(SubmitAs(spec, "content-2").status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SchedulerJournalTest, BatchOnACallbackWorkerExecutorIsRecoveredBeforeWorkersReturn) {
  // Before the crash "gpu" was served (made on demand, held by the worker that connected).
  std::shared_ptr<Executor> served = process_->registry.FindOrCreate("gpu").executor;
  ASSERT_NE(served, nullptr);
  BatchSpec spec;
  spec.tasks = {Task("a", "gpu")};
  spec.tasks[0].timeout_ms = 500;
  const std::string id = Submit(std::move(spec));
  served.reset();  // the worker leaves; the unfinished batch still names "gpu"
  Commit();
  Crash();  // the new process has no "gpu" executor until a worker connects
  // The recovered batch keeps it known (with no worker) while it waits...
  const std::vector<ExecutorDescription> listed = process_->registry.List();
  auto gpu = std::find_if(listed.begin(), listed.end(),
                          [](const ExecutorDescription& d) { return d.name == "gpu"; });
  ASSERT_NE(gpu, listed.end());
  EXPECT_EQ(gpu->kind, "worker");
  EXPECT_EQ(gpu->workers, 0u);
  Advance(500);
  Commit();
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0]->error, "No worker serves executor 'gpu'");
  // ...and lets go of it once it ended.
  EXPECT_EQ(process_->registry.Find("gpu"), nullptr);
  EXPECT_THAT(process_->registry.Names(),
              ElementsAre("echo", "external", "fail", "manual", "sleep"));
}

TEST_F(SchedulerJournalTest, NewBatchesAfterACrashGetNewIds) {
  BatchSpec spec;
  spec.tasks = {Task("a", "echo")};
  const std::string first = Submit(spec);
  Commit();
  Crash();
  const std::string second = Submit(spec);
  EXPECT_NE(first, second);
}

TEST_F(SchedulerJournalTest, CancelledAndFinishedBatchesStaySoAfterACrash) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual"), Task("b", "manual", {"a"})};
  const std::string cancelled = Submit(spec);
  std::optional<absl::StatusOr<BatchProgress>> progress;
  scheduler().Cancel(cancelled, "enough",
                     [&](absl::StatusOr<BatchProgress> p) { progress = std::move(p); });
  Poll();
  BatchSpec echo;
  echo.tasks = {Task("x", "echo"), Task("y", "echo")};
  const std::string finished = Submit(echo);
  Commit();
  uint64_t before = 0;
  const std::vector<std::string> order = Read(finished, before);

  Crash();
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
  const BatchSummary c = Summary(cancelled);
  EXPECT_EQ(c.state, BatchState::kCancelled);
  EXPECT_EQ(c.cancel_reason, "enough");
  ASSERT_NE(ResultOf(c, "b"), nullptr);
  EXPECT_EQ(ResultOf(c, "b")->error, "Cancelled: enough");
  uint64_t after = 0;
  std::optional<BatchSummary> summary;
  EXPECT_EQ(Read(finished, after, &summary), order);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->state, BatchState::kSucceeded);
}

TEST_F(SchedulerJournalTest, FailureStoredWithoutItsSkipsSkipsDependentsAfterACrash) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual"), Task("b", "manual", {"a"})};
  spec.options.retry_policy.kind = RetryKind::kNone;
  const std::string id = Submit(std::move(spec));
  Commit();
  // The journal kept a's failure but not the skip of b recorded after it.
  std::string events;
  EncodeStarted(events, 0, 0);
  TaskResult failed;
  failed.task = 0;
  failed.state = TaskState::kFailed;
  failed.error = "boom";
  EncodeResult(events, failed);
  journal_.SetStoredEvents(journal_.Stored().at(0).record.seq, events);
  Crash();
  const BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  ASSERT_NE(ResultOf(s, "a"), nullptr);
  EXPECT_EQ(ResultOf(s, "a")->error, "boom");
  ASSERT_NE(ResultOf(s, "b"), nullptr);
  EXPECT_EQ(ResultOf(s, "b")->state, TaskState::kSkipped);
  EXPECT_EQ(ResultOf(s, "b")->error, "Skipped: dependency 'a' failed");
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
}

TEST_F(SchedulerJournalTest, SuspendAnswersWaitingReadersUnavailableAndRecordsNothingMore) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual")};
  const std::string id = Submit(std::move(spec));
  Commit();
  std::optional<absl::StatusOr<BatchSummary>> completion;
  scheduler().WaitForCompletion(id, [&](absl::StatusOr<BatchSummary> s) { completion = s; });
  Poll();
  scheduler().Suspend("batchd is shutting down");
  Poll();
  ASSERT_TRUE(completion.has_value());
  EXPECT_EQ(completion->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(completion->status().message(),
            "batchd is shutting down; batch " + id + " resumes when the daemon restarts");
  EXPECT_EQ(manual().cancelled().size(), 1u);
  manual().ReportRaw(manual().attempts()[0].token, ExecutionOutcome::Success(nullptr));
  Poll();
  EXPECT_EQ(journal_.pending_chunks(), 0u);
  Crash();
  EXPECT_THAT(manual().StartedIds(), ElementsAre("a"));  // resumes after the restart
}

// ---- Per-task cancel and client completions across a crash ----

class SchedulerJournalLiveTest : public SchedulerJournalTest {
 protected:
  std::optional<absl::StatusOr<TaskUpdate>> CompleteAsync(const std::string& id,
                                                          const std::string& task,
                                                          const std::string& token,
                                                          ExecutionOutcome outcome) {
    auto out = std::make_shared<std::optional<absl::StatusOr<TaskUpdate>>>();
    scheduler().CompleteTask(id, task, token, std::move(outcome),
                             [out](absl::StatusOr<TaskUpdate> u) { *out = std::move(u); });
    Poll();
    answer_ = out;
    return *out;
  }
  std::string TokenOf(const std::string& id, const std::string& task) {
    std::string token;
    scheduler().GetProgress(id, [&](absl::StatusOr<BatchProgress> p) {
      if (!p.ok()) return;
      for (const BatchProgress::AwaitingCompletion& a : p->awaiting_completion) {
        if (a.task_id == task) token = a.token;
      }
    });
    Poll();
    return token;
  }
  std::shared_ptr<std::optional<absl::StatusOr<TaskUpdate>>> answer_;
};

TEST_F(SchedulerJournalLiveTest, AnExternalTaskWaitsOnWithTheSameTokenAfterACrash) {
  BatchSpec spec;
  spec.tasks = {Task("approve", "external"), Task("after", "manual", {"approve"})};
  const std::string id = Submit(std::move(spec));
  const std::string token = TokenOf(id, "approve");
  ASSERT_EQ(token.size(), 32u);
  Commit();
  Crash();
  // Not run again, not counted as a retry: it still waits for the same token.
  EXPECT_EQ(TokenOf(id, "approve"), token);
  EXPECT_THAT(manual().StartedIds(), ElementsAre());
  // The completion is answered only once it is durable...
  EXPECT_FALSE(CompleteAsync(id, "approve", token, ExecutionOutcome::Success("yes")).has_value());
  EXPECT_THAT(manual().StartedIds(), ElementsAre("after"));  // (it took effect at once)
  Commit();
  ASSERT_TRUE(answer_->has_value() && (*answer_)->ok());
  EXPECT_EQ((**answer_)->state, TaskState::kSucceeded);
  // ...and then survives a crash: approve stays done, after runs again as an interrupted attempt.
  Crash();
  const BatchSummary s = Summary(id);
  ASSERT_NE(ResultOf(s, "approve"), nullptr);
  EXPECT_EQ(ResultOf(s, "approve")->output, boost::json::value("yes"));
  EXPECT_EQ(ResultOf(s, "approve")->retry_count, 0u);
  EXPECT_THAT(manual().StartedIds(), ElementsAre("after"));
}

TEST_F(SchedulerJournalLiveTest, ACancelledTaskStaysCancelledAndItsDependentsSkippedAfterACrash) {
  BatchSpec spec;
  spec.tasks = {Task("a", "manual"), Task("b", "manual", {"a"}), Task("c", "manual")};
  const std::string id = Submit(std::move(spec));
  auto answer = std::make_shared<std::optional<absl::StatusOr<TaskUpdate>>>();
  scheduler().CancelTask(id, "a", "stop",
                         [answer](absl::StatusOr<TaskUpdate> u) { *answer = std::move(u); });
  Poll();
  EXPECT_FALSE(answer->has_value());  // not durable yet
  Commit();
  ASSERT_TRUE(answer->has_value() && (*answer)->ok());
  Crash();
  EXPECT_THAT(manual().StartedIds(), ElementsAre("c"));  // only c was interrupted
  const BatchSummary s = Summary(id);
  EXPECT_EQ(ResultOf(s, "a")->state, TaskState::kCancelled);
  EXPECT_EQ(ResultOf(s, "a")->error, "Cancelled: stop");
  EXPECT_EQ(ResultOf(s, "b")->state, TaskState::kSkipped);
}

TEST_F(SchedulerJournalLiveTest, AddedTasksAndTheCloseSurviveACrash) {
  BatchSpec spec;
  spec.options.open = true;
  spec.tasks = {Task("plan", "manual")};
  const std::string id = Submit(std::move(spec));
  const auto add = [&](std::vector<TaskSpec> tasks, std::string request_id, bool close) {
    Scheduler::AddTasksCall call;
    call.batch_id = id;
    call.request_id = request_id;
    call.content = "added:" + request_id;
    added_[call.content] = tasks;
    call.tasks = std::move(tasks);
    call.close = close;
    auto out = std::make_shared<std::optional<absl::StatusOr<AddTasksResult>>>();
    scheduler().AddTasks(std::move(call),
                         [out](absl::StatusOr<AddTasksResult> r) { *out = std::move(r); });
    Poll();
    return out;
  };
  auto first = add({Task("tool-1", "manual", {"plan"}), Task("tool-2", "manual")}, "r1", false);
  EXPECT_FALSE(first->has_value());  // answered once durable
  Commit();
  ASSERT_TRUE(first->has_value() && (*first)->ok());
  EXPECT_EQ((**first)->total_tasks, 3u);
  ASSERT_TRUE(manual().Finish("plan", ExecutionOutcome::Success(1)));
  ASSERT_TRUE(manual().Finish("tool-2", ExecutionOutcome::Success(2)));
  Poll();
  auto second = add({Task("merge", "manual", {"tool-1", "tool-2"})}, "r2", true);
  Commit();
  ASSERT_TRUE(second->has_value() && (*second)->ok());

  Crash();
  // The added tasks are back: tool-1 was running (runs again), merge waits for it.
  EXPECT_THAT(manual().StartedIds(), ElementsAre("tool-1"));
  EXPECT_EQ(Summary(id).total_tasks, 4u);
  // The same request_id is still known: a retry adds nothing.
  auto retry = add({Task("tool-1", "manual", {"plan"}), Task("tool-2", "manual")}, "r1", false);
  Commit();
  ASSERT_TRUE(retry->has_value() && (*retry)->ok()) << (*retry)->status();
  EXPECT_TRUE((**retry)->already_added);
  ASSERT_TRUE(manual().Finish("tool-1", ExecutionOutcome::Success(3)));
  Poll();
  ASSERT_TRUE(manual().Finish("merge", ExecutionOutcome::Success(4)));
  Poll();
  Commit();
  // Closed before the crash: it finishes once its tasks are final.
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
}

TEST_F(SchedulerJournalLiveTest, ACompletionNotYetDurableIsAnsweredUnavailableAtShutdown) {
  BatchSpec spec;
  spec.tasks = {Task("approve", "external")};
  const std::string id = Submit(std::move(spec));
  Commit();
  EXPECT_FALSE(CompleteAsync(id, "approve", TokenOf(id, "approve"), ExecutionOutcome::Success(1))
                   .has_value());
  scheduler().Suspend("shutting down");
  Poll();
  ASSERT_TRUE(answer_->has_value());
  EXPECT_EQ((*answer_)->status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace batchd::core
