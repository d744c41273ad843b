// The scheduler's listings on the fake clock: ListBatches (state and label filters, pages that
// stay exact while batches are added) and ListTasks (states, layers, dependencies, every
// waiting reason, final tasks from their result, pages by task index).
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/executors/builtin_executors.h"
#include "core/scheduling/scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/manual_executor.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TaskSpec Task(std::string id, std::vector<std::string> deps = {}, std::string executor = "manual") {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = std::move(executor);
  t.dependencies = std::move(deps);
  return t;
}

BatchSpec Spec(std::vector<TaskSpec> tasks, std::map<std::string, std::string> labels = {}) {
  BatchSpec spec;
  spec.tasks = std::move(tasks);
  spec.labels = std::move(labels);
  return spec;
}

// An executor whose capacity and service the test sets: tasks park while it has no free slot.
class SlotExecutor final : public Executor {
 public:
  void Start(const ExecutionRequest& /*request*/, CompletionSink& /*sink*/) override {}
  void Cancel(const AttemptToken& /*token*/) override {}
  uint32_t FreeCapacity() const override { return 0; }
  std::string Unserved() const override { return unserved; }
  std::string unserved;
};

class SchedulerListingTest : public ::testing::Test {
 protected:
  SchedulerListingTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    auto manual = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
    auto slots = std::make_unique<SlotExecutor>();
    slots_ = slots.get();
    EXPECT_TRUE(registry_.Register({"slots", "builtin", 0, 0}, std::move(slots)).ok());
  }

  void Start() {
    scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options_);
  }

  std::string Submit(BatchSpec spec) {
    if (!scheduler_) Start();
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    timers_.Poll();
    return r.ok() ? r->batch_id : "";
  }
  BatchPage ListBatches(BatchListQuery query) {
    std::optional<BatchPage> out;
    scheduler_->ListBatches(std::move(query), [&](BatchPage p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(BatchPage{});
  }
  absl::StatusOr<TaskPage> ListTasks(const std::string& id, TaskListQuery query = {}) {
    std::optional<absl::StatusOr<TaskPage>> out;
    scheduler_->ListTasks(id, std::move(query),
                          [&](absl::StatusOr<TaskPage> p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(absl::InternalError("no answer"));
  }
  // The listed status of task `task_id` (all tasks on one page).
  TaskStatus StatusOf(const std::string& batch, const std::string& task_id) {
    absl::StatusOr<TaskPage> page = ListTasks(batch);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (TaskStatus& s : page->tasks) {
        if (*s.task_id == task_id) return std::move(s);
      }
    }
    ADD_FAILURE() << "no task " << task_id;
    return {};
  }
  void Finish(const std::string& id, ExecutionOutcome outcome = ExecutionOutcome::Success(1)) {
    EXPECT_TRUE(manual_->Finish(id, std::move(outcome))) << id;
    timers_.Poll();
  }
  void Advance(int ms) { timers_.Advance(milliseconds(ms)); }
  static std::vector<std::string> Ids(const BatchPage& page) {
    std::vector<std::string> ids;
    for (const BatchProgress& p : page.batches) ids.push_back(p.batch_id);
    return ids;
  }
  static std::vector<std::string> Ids(const TaskPage& page) {
    std::vector<std::string> ids;
    for (const TaskStatus& s : page.tasks) ids.push_back(*s.task_id);
    return ids;
  }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  SchedulerOptions options_;
  testing::ManualExecutor* manual_ = nullptr;
  SlotExecutor* slots_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

// ---- ListBatches ----

TEST_F(SchedulerListingTest, ListBatchesFiltersByLabelsAndStateNewestFirst) {
  const std::string a = Submit(Spec({Task("t")}, {{"env", "prod"}, {"team", "ml"}}));
  const std::string b = Submit(Spec({Task("t")}, {{"env", "dev"}}));
  const std::string c = Submit(Spec({Task("u")}, {{"env", "prod"}}));
  Finish("u");  // c succeeds; a and b run on

  BatchListQuery prod;
  prod.selector = LabelSelector::Parse("env=prod").value();
  BatchPage page = ListBatches(prod);
  EXPECT_THAT(Ids(page), ElementsAre(c, a));
  EXPECT_EQ(page.total_size, 2u);

  BatchListQuery running_not_ml;
  running_not_ml.states = {BatchState::kRunning};
  running_not_ml.selector = LabelSelector::Parse("team!=ml").value();
  EXPECT_THAT(Ids(ListBatches(running_not_ml)), ElementsAre(b));

  BatchListQuery unpaged;  // limit as before when page_size is 0
  unpaged.limit = 2;
  page = ListBatches(unpaged);
  EXPECT_THAT(Ids(page), ElementsAre(c, b));
  EXPECT_EQ(page.total_size, 3u);
  EXPECT_FALSE(page.next_before_seq.has_value());
}

TEST_F(SchedulerListingTest, ABatchSubmittedBetweenPagesIsNeitherRepeatedNorSkipped) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit(Spec({Task(absl::StrCat("t", i))})));
  BatchListQuery query;
  query.page_size = 2;
  BatchPage first = ListBatches(query);
  EXPECT_THAT(Ids(first), ElementsAre(ids[4], ids[3]));
  ASSERT_TRUE(first.next_before_seq.has_value());

  const std::string late = Submit(Spec({Task("late")}));
  query.before_seq = first.next_before_seq;
  BatchPage second = ListBatches(query);
  EXPECT_THAT(Ids(second), ElementsAre(ids[2], ids[1]));
  EXPECT_EQ(second.total_size, 6u);  // the late one counts, on the first page's side
  query.before_seq = second.next_before_seq;
  BatchPage third = ListBatches(query);
  EXPECT_THAT(Ids(third), ElementsAre(ids[0]));
  EXPECT_FALSE(third.next_before_seq.has_value());

  query.before_seq.reset();  // a new first page shows it
  EXPECT_THAT(Ids(ListBatches(query)), ElementsAre(late, ids[4]));
}

// ---- ListTasks ----

TEST_F(SchedulerListingTest, ListTasksShowsStatesLayersDependenciesAndWhatEachWaitsFor) {
  const std::string id = Submit(Spec(
      {Task("fetch"), Task("parse", {"fetch"}), Task("join", {"fetch", "parse"}), Task("side")}));
  Advance(250);
  absl::StatusOr<TaskPage> page = ListTasks(id);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->batch_state, BatchState::kRunning);
  EXPECT_EQ(page->total_size, 4u);
  EXPECT_FALSE(page->next_task.has_value());
  ASSERT_THAT(Ids(*page), ElementsAre("fetch", "parse", "join", "side"));  // task order

  const TaskStatus& fetch = page->tasks[0];
  EXPECT_EQ(fetch.state, TaskState::kRunning);
  EXPECT_EQ(*fetch.executor, "manual");
  EXPECT_EQ(fetch.layer, 0u);
  EXPECT_DOUBLE_EQ(fetch.duration_ms, 250.0);
  EXPECT_EQ(fetch.started_at, clock_.WallNow() - milliseconds(250));
  EXPECT_EQ(fetch.waiting_reason, "");

  const TaskStatus& parse = page->tasks[1];
  EXPECT_EQ(parse.state, TaskState::kPending);
  EXPECT_EQ(parse.layer, 1u);
  EXPECT_EQ(parse.waiting_reason, "waiting for 1 dependency: fetch");
  EXPECT_EQ(parse.started_at, WallTime{});

  const TaskStatus& join = page->tasks[2];
  EXPECT_EQ(join.layer, 2u);
  ASSERT_EQ(join.dependencies.size(), 2u);
  EXPECT_EQ(*join.dependencies[0], "fetch");
  EXPECT_EQ(*join.dependencies[1], "parse");
  EXPECT_EQ(join.waiting_reason, "waiting for 2 dependencies: fetch, parse");
  EXPECT_EQ(page->tasks[3].layer, 0u);

  Finish("fetch", ExecutionOutcome::Success(7));
  const TaskStatus done = StatusOf(id, "fetch");
  EXPECT_EQ(done.state, TaskState::kSucceeded);
  ASSERT_NE(done.result, nullptr);  // its times and worker come from the recorded result
  EXPECT_DOUBLE_EQ(done.result->duration_ms, 250.0);
  EXPECT_EQ(done.waiting_reason, "");
  EXPECT_EQ(StatusOf(id, "parse").state, TaskState::kRunning);
  EXPECT_EQ(StatusOf(id, "join").waiting_reason, "waiting for 1 dependency: parse");
}

TEST_F(SchedulerListingTest, AWaitingReasonNamesTheFirstFewUnfinishedDependencies) {
  const std::string id = Submit(Spec({Task("d1"), Task("d2"), Task("d3"), Task("d4"), Task("d5"),
                                      Task("all", {"d1", "d2", "d3", "d4", "d5"})}));
  Finish("d2");
  EXPECT_EQ(StatusOf(id, "all").waiting_reason, "waiting for 4 dependencies: d1, d3, d4, ...");
}

TEST_F(SchedulerListingTest, ReadyTasksWaitForTheBatchsOrTheDaemonsSlots) {
  BatchSpec spec = Spec({Task("x"), Task("y")});
  spec.options.max_concurrent = 1;
  const std::string one = Submit(std::move(spec));
  EXPECT_EQ(StatusOf(one, "x").state, TaskState::kRunning);
  EXPECT_EQ(StatusOf(one, "y").waiting_reason, "waiting for a free slot (max_concurrent 1)");
}

TEST_F(SchedulerListingTest, ReadyTasksWaitForTheDaemonsMaxRunning) {
  options_.max_running = 1;
  const std::string id = Submit(Spec({Task("x"), Task("y")}));
  EXPECT_EQ(StatusOf(id, "y").waiting_reason, "waiting for a free slot (max_running 1)");
}

TEST_F(SchedulerListingTest, RetryWaitShowsTheFailedAttemptsErrorAndTheRemainingDelay) {
  BatchSpec spec = Spec({Task("flaky")});
  spec.options.retry_policy.kind = RetryKind::kFixed;
  spec.options.retry_policy.initial_delay_ms = 2000;
  spec.options.retry_policy.max_retries = 3;
  spec.options.retry_policy.jitter = Jitter::kNone;
  const std::string id = Submit(std::move(spec));
  Finish("flaky", ExecutionOutcome::Failure("HTTP 502"));
  TaskStatus s = StatusOf(id, "flaky");
  EXPECT_EQ(s.state, TaskState::kRetryWait);
  EXPECT_EQ(s.retry_count, 1u);
  EXPECT_EQ(s.error, "HTTP 502");
  EXPECT_EQ(s.waiting_reason, "retrying in 2.0 s");
  Advance(800);
  EXPECT_EQ(StatusOf(id, "flaky").waiting_reason, "retrying in 1.2 s");
  Advance(1200);  // due: it runs again and the old error is gone
  s = StatusOf(id, "flaky");
  EXPECT_EQ(s.state, TaskState::kRunning);
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.waiting_reason, "");
}

TEST_F(SchedulerListingTest, TasksWaitingForALimitGiveTheLimitTablesReason) {
  Start();
  LimitSpec api;
  api.key = "api";
  api.max_in_flight = 1;
  std::optional<absl::StatusOr<LimitState>> set;
  scheduler_->SetLimit(api, [&](absl::StatusOr<LimitState> s) { set = std::move(s); });
  timers_.Poll();
  ASSERT_TRUE(set.has_value() && set->ok());
  BatchSpec spec = Spec({Task("a"), Task("b")});
  spec.options.default_limits = {LimitUse{"api", 1}};
  const std::string id = Submit(std::move(spec));
  const TaskStatus b = StatusOf(id, "b");
  EXPECT_EQ(b.state, TaskState::kPending);
  EXPECT_THAT(b.waiting_reason, HasSubstr("waiting for limit 'api' ("));
  std::optional<absl::StatusOr<BatchProgress>> progress;
  scheduler_->GetProgress(id, [&](absl::StatusOr<BatchProgress> p) { progress = std::move(p); });
  timers_.Poll();
  ASSERT_EQ((*progress)->limit_waits.size(), 1u);
  EXPECT_EQ(b.waiting_reason, (*progress)->limit_waits[0].reason);  // the same text
}

TEST_F(SchedulerListingTest, ParkedTasksSayWhetherAWorkerIsMissingOrOnlyASlot) {
  const std::string id = Submit(Spec({Task("embed-1", {}, "slots")}));
  EXPECT_EQ(StatusOf(id, "embed-1").waiting_reason,
            "waiting for a free slot of a worker serving 'slots'");
  slots_->unserved = "No worker serves 'slots'";
  EXPECT_EQ(StatusOf(id, "embed-1").waiting_reason, "waiting for a worker serving 'slots'");
}

TEST_F(SchedulerListingTest, ATaskWithTheCacheKeyOfARunningAttemptWaitsForIt) {
  BatchSpec spec = Spec({Task("first"), Task("second")});
  CacheSpec cache;
  cache.ttl_ms = 1000;
  for (TaskSpec& t : spec.tasks) {
    t.input = boost::json::object{{"q", 1}};
    t.cache = cache;
  }
  const std::string id = Submit(std::move(spec));
  EXPECT_EQ(StatusOf(id, "first").state, TaskState::kRunning);
  EXPECT_EQ(StatusOf(id, "second").waiting_reason, "waiting for the cached result of another task");
}

TEST_F(SchedulerListingTest, ExternalTasksAwaitCompleteTask) {
  const std::string id = Submit(Spec({Task("approve", {}, "external")}));
  const TaskStatus s = StatusOf(id, "approve");
  EXPECT_EQ(s.state, TaskState::kRunning);
  EXPECT_EQ(s.waiting_reason, "awaiting CompleteTask");
}

TEST_F(SchedulerListingTest, FinalTasksOfAFinishedBatchComeFromTheirResults) {
  BatchSpec spec = Spec({Task("a"), Task("b", {"a"})});
  spec.options.retry_policy.kind = RetryKind::kNone;
  const std::string id = Submit(std::move(spec));
  Advance(40);
  Finish("a", ExecutionOutcome::Failure("boom"));
  absl::StatusOr<TaskPage> page = ListTasks(id);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->batch_state, BatchState::kFailed);
  ASSERT_EQ(page->tasks.size(), 2u);
  EXPECT_EQ(page->tasks[0].state, TaskState::kFailed);
  EXPECT_EQ(page->tasks[0].result->error, "boom");
  EXPECT_DOUBLE_EQ(page->tasks[0].result->duration_ms, 40.0);
  EXPECT_EQ(page->tasks[1].state, TaskState::kSkipped);
  EXPECT_NE(page->tasks[1].result, nullptr);
}

TEST_F(SchedulerListingTest, ListTasksPagesByTaskIndexAndFiltersByState) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 25; ++i) tasks.push_back(Task(absl::StrCat("t", i)));
  BatchSpec spec = Spec(std::move(tasks));
  spec.options.max_concurrent = 5;  // t0..t4 run, the rest wait
  const std::string id = Submit(std::move(spec));

  TaskListQuery query;
  query.page_size = 10;
  std::vector<std::string> all;
  std::vector<uint32_t> starts;
  std::optional<uint32_t> next = 0;
  while (next.has_value()) {
    starts.push_back(*next);
    query.first_task = *next;
    absl::StatusOr<TaskPage> page = ListTasks(id, query);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->total_size, 25u);
    for (const std::string& t : Ids(*page)) all.push_back(t);
    next = page->next_task;
  }
  EXPECT_THAT(starts, ElementsAre(0u, 10u, 20u));
  ASSERT_EQ(all.size(), 25u);
  EXPECT_EQ(all.front(), "t0");
  EXPECT_EQ(all.back(), "t24");

  Finish("t1");
  Finish("t3");  // t5, t6 start
  TaskListQuery running;
  running.states = {TaskState::kRunning};
  running.page_size = 2;
  absl::StatusOr<TaskPage> page = ListTasks(id, running);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_size, 5u);
  EXPECT_THAT(Ids(*page), ElementsAre("t0", "t2"));
  ASSERT_EQ(page->next_task, std::optional<uint32_t>(4));  // the next running one
  running.first_task = 4;
  page = ListTasks(id, running);
  EXPECT_THAT(Ids(*page), ElementsAre("t4", "t5"));
  running.first_task = *page->next_task;
  page = ListTasks(id, running);
  EXPECT_THAT(Ids(*page), ElementsAre("t6"));
  EXPECT_FALSE(page->next_task.has_value());

  TaskListQuery done;
  done.states = {TaskState::kSucceeded};
  page = ListTasks(id, done);
  EXPECT_THAT(Ids(*page), ElementsAre("t1", "t3"));

  TaskListQuery past_end;
  past_end.first_task = 99;
  page = ListTasks(id, past_end);
  EXPECT_TRUE(page->tasks.empty());
  EXPECT_FALSE(page->next_task.has_value());
}

TEST_F(SchedulerListingTest, ListTasksOfAnUnknownBatchIsNotFoundLikeGetSummary) {
  Start();
  absl::StatusOr<TaskPage> page = ListTasks("nope");
  std::optional<absl::StatusOr<BatchSummary>> summary;
  scheduler_->GetSummary("nope", [&](absl::StatusOr<BatchSummary> s) { summary = std::move(s); });
  timers_.Poll();
  EXPECT_EQ(page.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(page.status().message(), summary->status().message());
}

// A figure, not a bound: how long the strand takes for a 10,000-task batch's pages.
TEST_F(SchedulerListingTest, ListTasksOfTenThousandTasksStaysCheap) {
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 10000; ++i) {
    tasks.push_back(Task(absl::StrCat("t", i),
                         i == 0 ? std::vector<std::string>{} : std::vector<std::string>{"t0"}));
  }
  const std::string id = Submit(Spec(std::move(tasks)));
  for (const auto& [label, query] :
       {std::pair<const char*, TaskListQuery>{"1000 tasks (default page)", {}},
        {"10000 tasks (max page)", {{}, 0, kMaxTaskPageSize}},
        {"state filter, 100 of 10000", {{TaskState::kPending}, 0, 100}}}) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<TaskPage> page = ListTasks(id, query);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(page.ok());
    std::printf("ListTasks %s: %.2f ms on the strand\n", label, ms);
  }
}

}  // namespace
}  // namespace batchd::core
