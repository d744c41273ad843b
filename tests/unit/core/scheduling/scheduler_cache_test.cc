// The scheduler with the result cache, on the fake clock: a repeated task is served from the
// cache in any later batch (marked, with its origin, taking no slot) until its TTL passes;
// single-flight makes tasks with the key of a running attempt wait for it, and a failure hands
// the run to one waiter; skip_lookup refreshes; only successes are stored; a client key and
// the input after its references were substituted make the key; bad policies are refused. With
// a journal, entries, evictions and invalidations are journaled and outlive a restart.
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cache/cache_records.h"
#include "core/executors/builtin_executors.h"
#include "core/model/field_violation.h"
#include "core/scheduling/scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_journal.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/manual_executor.h"

namespace batchd::core {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using ::testing::ElementsAre;

CacheSpec Cache(uint32_t ttl_ms = 1000) {
  CacheSpec c;
  c.ttl_ms = ttl_ms;
  return c;
}

TaskSpec Manual(std::string id, const char* input, std::optional<CacheSpec> cache = Cache(),
                std::vector<std::string> deps = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = "manual";
  t.input = json::parse(input);
  t.cache = std::move(cache);
  t.dependencies = std::move(deps);
  return t;
}

BatchSpec One(TaskSpec task) {
  BatchSpec spec;
  spec.options.retry_policy.max_retries = 0;
  spec.tasks.push_back(std::move(task));
  return spec;
}

class SchedulerCacheTest : public ::testing::Test {
 protected:
  SchedulerCacheTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::warn);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    auto manual = std::make_unique<testing::ManualExecutor>(clock_);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
    scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options_);
  }

  std::string Submit(BatchSpec spec) {
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    timers_.Poll();
    return r.ok() ? r->batch_id : "";
  }
  BatchSummary Summary(const std::string& id) {
    std::optional<absl::StatusOr<BatchSummary>> out;
    scheduler_->GetSummary(id, [&](absl::StatusOr<BatchSummary> s) { out = std::move(s); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchSummary{};
  }
  BatchProgress Progress(const std::string& id) {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->GetProgress(id, [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchProgress{};
  }
  static const TaskResult& ResultOf(const BatchSummary& s, const std::string& id) {
    for (const TaskResult* r : s.results) {
      if (*r->task_id == id) return *r;
    }
    ADD_FAILURE() << "no result for " << id;
    static TaskResult none;
    return none;
  }
  // The output of the batch's only task, compact; "" when it has none yet.
  std::string OutputOf(const std::string& id) {
    const BatchSummary s = Summary(id);
    return s.results.empty() ? "" : json::serialize(s.results[0]->output);
  }
  void Finish(const std::string& id, ExecutionOutcome outcome) {
    EXPECT_TRUE(manual_->Finish(id, std::move(outcome))) << id;
    timers_.Poll();
  }
  static ExecutionOutcome Ok(const char* output) {
    return ExecutionOutcome::Success(json::parse(output));
  }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  SchedulerOptions options_;
  testing::ManualExecutor* manual_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerCacheTest, ARepeatedTaskInALaterBatchIsServedFromTheCache) {
  const std::string first = Submit(One(Manual("a", R"({"q": "weather", "n": 1})")));
  Finish("a", Ok(R"({"v": 1})"));
  const TaskResult& ran = ResultOf(Summary(first), "a");
  EXPECT_EQ(ran.cached_from, nullptr);

  timers_.Advance(milliseconds(10));
  // The same input with its members in another order is the same call.
  const std::string second = Submit(One(Manual("again", R"({"n": 1, "q": "weather"})")));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  const BatchSummary s = Summary(second);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  const TaskResult& hit = ResultOf(s, "again");
  EXPECT_EQ(hit.state, TaskState::kSucceeded);
  EXPECT_EQ(json::serialize(hit.output), R"({"v":1})");
  ASSERT_NE(hit.cached_from, nullptr);
  EXPECT_EQ(hit.cached_from->batch_id, first);
  EXPECT_EQ(hit.cached_from->task_id, "a");
  EXPECT_EQ(hit.retry_count, 0u);
  EXPECT_EQ(hit.started_at, hit.finished_at);
  EXPECT_GT(hit.started_at, ran.finished_at);  // its own times, not the original's
}

TEST_F(SchedulerCacheTest, AnEntryServesUntilItsTtlPasses) {
  Submit(One(Manual("a", R"({"q": 1})", Cache(500))));
  Finish("a", Ok("1"));
  timers_.Advance(milliseconds(499));
  Submit(One(Manual("b", R"({"q": 1})", Cache(500))));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  timers_.Advance(milliseconds(1));
  Submit(One(Manual("c", R"({"q": 1})", Cache(500))));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "c"));
}

TEST_F(SchedulerCacheTest, AHitTakesNoBatchSlot) {
  Submit(One(Manual("warm", R"({"q": 1})")));
  Finish("warm", Ok("1"));
  BatchSpec spec;
  spec.options.max_concurrent = 1;
  spec.tasks = {Manual("slow", "null", std::nullopt), Manual("cached", R"({"q": 1})")};
  spec.tasks[0].priority = 10;  // takes the batch's one slot first
  const std::string id = Submit(std::move(spec));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("warm", "slow"));
  // While slow holds the only slot, the cached task is done.
  EXPECT_EQ(ResultOf(Summary(id), "cached").state, TaskState::kSucceeded);
  EXPECT_EQ(Progress(id).running_tasks, 1u);
}

TEST_F(SchedulerCacheTest, TasksWithTheKeyOfARunningAttemptWaitForItInAnyBatch) {
  const std::string first = Submit(One(Manual("a", R"({"q": 1})")));
  const std::string second = Submit(One(Manual("b", R"({"q": 1})")));
  BatchSpec third;
  third.tasks = {Manual("c1", R"({"q": 1})"), Manual("c2", R"({"q": 1})")};
  const std::string third_id = Submit(std::move(third));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  BatchProgress p = Progress(second);
  EXPECT_EQ(p.pending_tasks, 1u);
  EXPECT_EQ(p.cache_waiting_tasks, 1u);
  EXPECT_EQ(Progress(third_id).cache_waiting_tasks, 2u);

  Finish("a", Ok(R"({"v": 7})"));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
  EXPECT_EQ(OutputOf(second), R"({"v":7})");
  const BatchSummary s = Summary(third_id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  for (const char* t : {"c1", "c2"}) {
    ASSERT_NE(ResultOf(s, t).cached_from, nullptr) << t;
    EXPECT_EQ(ResultOf(s, t).cached_from->batch_id, first);
  }
  EXPECT_EQ(Progress(third_id).cache_waiting_tasks, 0u);
}

TEST_F(SchedulerCacheTest, AFailedAttemptHandsTheRunToOneWaiter) {
  Submit(One(Manual("a", R"({"q": 1})")));
  const std::string second = Submit(One(Manual("b", R"({"q": 1})")));
  const std::string third = Submit(One(Manual("c", R"({"q": 1})")));
  Finish("a", ExecutionOutcome::Failure("boom"));
  // Nothing failed is stored: the first waiter runs, the other keeps waiting for it.
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
  EXPECT_EQ(Progress(third).cache_waiting_tasks, 1u);
  Finish("b", Ok("2"));
  EXPECT_EQ(OutputOf(third), "2");
  EXPECT_EQ(ResultOf(Summary(third), "c").cached_from->batch_id, second);
  EXPECT_EQ(manual_->StartedIds().size(), 2u);
}

TEST_F(SchedulerCacheTest, ACancelledWaiterStopsWaitingAndTheRunStillServesTheOthers) {
  Submit(One(Manual("a", R"({"q": 1})")));
  const std::string second = Submit(One(Manual("b", R"({"q": 1})")));
  const std::string third = Submit(One(Manual("c", R"({"q": 1})")));
  std::optional<absl::StatusOr<BatchProgress>> cancelled;
  scheduler_->Cancel(second, "not needed",
                     [&](absl::StatusOr<BatchProgress> p) { cancelled = std::move(p); });
  timers_.Poll();
  EXPECT_EQ(Summary(second).state, BatchState::kCancelled);
  EXPECT_EQ(Progress(second).cache_waiting_tasks, 0u);
  Finish("a", Ok("3"));
  EXPECT_EQ(OutputOf(third), "3");
  EXPECT_EQ(ResultOf(Summary(second), "b").state, TaskState::kCancelled);
}

TEST_F(SchedulerCacheTest, SkipLookupRunsAndRefreshesTheEntry) {
  Submit(One(Manual("a", R"({"q": 1})")));
  Finish("a", Ok("1"));
  CacheSpec refresh = Cache();
  refresh.skip_lookup = true;
  Submit(One(Manual("b", R"({"q": 1})", refresh)));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
  Finish("b", Ok("2"));
  const std::string later = Submit(One(Manual("c", R"({"q": 1})")));
  EXPECT_EQ(OutputOf(later), "2");
}

TEST_F(SchedulerCacheTest, TheKeyIsTheExecutorTheInputAndTheNamespaceOrTheClientsKey) {
  Submit(One(Manual("a", R"({"q": 1})")));
  Finish("a", Ok("1"));
  CacheSpec other_ns = Cache();
  other_ns.name_space = "tenant-2";
  Submit(One(Manual("ns", R"({"q": 1})", other_ns)));
  Submit(One(Manual("input", R"({"q": 2})")));
  TaskSpec echo = Manual("echo", R"({"q": 1})");
  echo.executor = "echo";  // another executor: its own entry (echo answers its input)
  const std::string echoed = Submit(One(std::move(echo)));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "ns", "input"));
  EXPECT_EQ(OutputOf(echoed), R"({"q":1})");

  CacheSpec mine = Cache();
  mine.key = "user:17";
  Submit(One(Manual("k1", R"({"anything": 1})", mine)));
  Finish("k1", Ok(R"("profile")"));
  const std::string by_key = Submit(One(Manual("k2", R"({"else": 2})", mine)));
  EXPECT_EQ(OutputOf(by_key), R"("profile")");
  EXPECT_EQ(manual_->StartedIds().size(), 4u);
}

TEST_F(SchedulerCacheTest, TheKeyIsTakenAfterReferencesAreSubstituted) {
  for (const char* batch : {"one", "two"}) {
    BatchSpec spec;
    spec.tasks = {Manual("a", R"({"batch": 1})", std::nullopt),
                  Manual("b", R"({"id": {"$ref": "a", "path": "/id"}})", Cache(), {"a"})};
    spec.tasks[0].input = json::value(batch);  // a differs between the batches, its id not
    const std::string id = Submit(std::move(spec));
    Finish("a", Ok(R"({"id": "u-1"})"));
    if (std::string(batch) == "one") Finish("b", Ok("1"));
    EXPECT_EQ(Summary(id).state, BatchState::kSucceeded) << batch;
  }
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b", "a"));
}

TEST_F(SchedulerCacheTest, BadPoliciesAreRefusedNamingTheirFields) {
  BatchSpec spec;
  CacheSpec zero = Cache(0);
  CacheSpec long_ttl = Cache(kMaxCacheTtlMs + 1);
  CacheSpec big_key = Cache();
  big_key.key = std::string(1025, 'k');
  spec.tasks = {Manual("a", "1", zero), Manual("b", "2", long_ttl), Manual("c", "3", big_key)};
  spec.options.default_cache = Cache(0);
  const absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      FieldViolationsOf(r.status()),
      ElementsAre(
          FieldViolation{"tasks[0].cache.ttl_ms", "Task 'a': cache ttl_ms must be at least 1"},
          FieldViolation{"tasks[1].cache.ttl_ms",
                         "Task 'b': cache ttl_ms 2592000001 is over the maximum 2592000000 (30 "
                         "days)"},
          FieldViolation{"tasks[2].cache.key",
                         "Task 'c': cache key of 1025 bytes is over the maximum of 1024"},
          FieldViolation{"options.default_cache.ttl_ms",
                         "The batch's default_cache: cache ttl_ms must be at least 1"}));
}

TEST_F(SchedulerCacheTest, TheBatchsDefaultCacheAppliesToTasksWithoutTheirOwn) {
  BatchSpec first;
  first.options.default_cache = Cache();
  first.tasks = {Manual("a", R"({"q": 1})", std::nullopt)};
  Submit(std::move(first));
  Finish("a", Ok("1"));
  BatchSpec second;
  second.options.default_cache = Cache();
  second.tasks = {Manual("b", R"({"q": 1})", std::nullopt)};
  const std::string id = Submit(std::move(second));
  EXPECT_EQ(OutputOf(id), "1");
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
}

// With a journal: the cache's changes are journaled at the end of each turn, and a restarted
// scheduler given the journal's entries serves them (expired ones are dropped there too).
class SchedulerCacheJournalTest : public SchedulerCacheTest {
 protected:
  SchedulerCacheJournalTest() { Restart(); }

  // A new scheduler over the same journal (what a restart of the daemon reads back).
  void Restart() {
    SchedulerOptions options = options_;
    options.journal = &journal_;
    scheduler_.reset();
    scheduler_ = std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, options);
    scheduler_->RestoreCache(journal_.StoredCache(), {});
    timers_.Poll();
  }
  std::string SubmitDurably(BatchSpec spec) {
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    journal_.Commit();
    timers_.Poll();
    return r.ok() ? r->batch_id : "";
  }
  void FinishDurably(const std::string& id, ExecutionOutcome outcome) {
    Finish(id, std::move(outcome));
    journal_.Commit();
  }

  testing::FakeJournal journal_;
};

TEST_F(SchedulerCacheJournalTest, ACachedResultOutlivesARestart) {
  const std::string first = SubmitDurably(One(Manual("a", R"({"q": 1})", Cache(60000))));
  FinishDurably("a", Ok(R"({"v": 1})"));
  ASSERT_EQ(journal_.StoredCache().size(), 1u);
  EXPECT_EQ(journal_.StoredCache()[0].kind, CacheRecord::Kind::kPut);
  EXPECT_EQ(journal_.StoredCache()[0].expires_at, clock_.WallNow() + milliseconds(60000));

  timers_.Advance(milliseconds(1000));
  Restart();
  const std::string second = SubmitDurably(One(Manual("b", R"({"q": 1})", Cache(60000))));
  const TaskResult& hit = ResultOf(Summary(second), "b");
  EXPECT_EQ(hit.state, TaskState::kSucceeded);
  ASSERT_NE(hit.cached_from, nullptr);
  EXPECT_EQ(hit.cached_from->batch_id, first);
  EXPECT_EQ(hit.cached_from->task_id, "a");
  EXPECT_EQ(json::serialize(hit.output), R"({"v":1})");
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a"));
}

TEST_F(SchedulerCacheJournalTest, AnEntryThatExpiredWhileDownIsDroppedFromTheJournal) {
  SubmitDurably(One(Manual("a", R"({"q": 1})", Cache(500))));
  FinishDurably("a", Ok("1"));
  ASSERT_EQ(journal_.StoredCache().size(), 1u);
  timers_.Advance(milliseconds(500));
  Restart();
  ASSERT_EQ(journal_.pending_cache().size(), 1u);
  EXPECT_EQ(journal_.pending_cache()[0].kind, CacheRecord::Kind::kErase);
  journal_.Commit();
  EXPECT_TRUE(journal_.StoredCache().empty());
  SubmitDurably(One(Manual("b", R"({"q": 1})", Cache(500))));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b"));
}

TEST_F(SchedulerCacheJournalTest, InvalidationsAreJournaledSoWhatWentStaysGone) {
  CacheSpec other = Cache(60000);
  other.name_space = "other";
  SubmitDurably(One(Manual("a", R"({"q": 1})", Cache(60000))));
  FinishDurably("a", Ok("1"));
  SubmitDurably(One(Manual("b", R"({"q": 1})", other)));
  FinishDurably("b", Ok("2"));
  ASSERT_EQ(journal_.StoredCache().size(), 2u);

  std::optional<size_t> removed;
  scheduler_->InvalidateCache(Scheduler::CacheScope::kNamespace, "other", "",
                              [&](size_t n) { removed = n; });
  timers_.Poll();
  EXPECT_EQ(removed, 1u);
  journal_.Commit();
  ASSERT_EQ(journal_.StoredCache().size(), 1u);
  EXPECT_EQ(journal_.StoredCache()[0].name_space, "");

  scheduler_->InvalidateCache(Scheduler::CacheScope::kAll, "", "", [&](size_t n) { removed = n; });
  timers_.Poll();
  journal_.Commit();
  EXPECT_TRUE(journal_.StoredCache().empty());
  Restart();
  SubmitDurably(One(Manual("c", R"({"q": 1})", Cache(60000))));
  EXPECT_THAT(manual_->StartedIds(), ElementsAre("a", "b", "c"));
}

TEST_F(SchedulerCacheJournalTest, AnEvictedEntryIsDeletedFromTheJournal) {
  options_.cache.max_bytes = 300;  // room for one small entry (about 200 bytes each)
  Restart();
  SubmitDurably(One(Manual("a", R"({"q": 1})", Cache(60000))));
  FinishDurably("a", Ok(R"("first")"));
  SubmitDurably(One(Manual("b", R"({"q": 2})", Cache(60000))));
  FinishDurably("b", Ok(R"("second")"));
  ASSERT_EQ(journal_.StoredCache().size(), 1u);
  const absl::StatusOr<StoredCacheEntry> kept = DecodeCachePut(journal_.StoredCache()[0]);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->origin.task_id, "b");
}

}  // namespace
}  // namespace batchd::core
