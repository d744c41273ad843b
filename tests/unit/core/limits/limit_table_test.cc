// LimitTable: keys set, listed and deleted at run time; demands checked at submit; tasks
// acquiring all their keys or waiting, in priority then round-robin order, woken exactly when
// capacity returns (release, refill time, pause end), never holding part of their keys.
#include "core/limits/limit_table.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using Demand = std::vector<LimitDemand>;

LimitSpec InFlight(std::string key, int64_t max) { return {std::move(key), max, {}}; }
LimitSpec Rate(std::string key, int64_t units, Duration period,
               std::optional<int64_t> burst = std::nullopt) {
  return {std::move(key), std::nullopt, {{units, period, burst}}};
}

LimitRelease Used(int64_t units) {
  LimitRelease how;
  how.units_used = units;
  return how;
}
LimitRelease Ended(SteadyTime started, LimitRelease::Verdict verdict,
                   std::optional<SteadyTime> pause_until = std::nullopt) {
  LimitRelease how;
  how.started = started;
  how.verdict = verdict;
  how.pause_until = pause_until;
  return how;
}
LimitTableOptions Options(size_t max_keys, AdaptiveOptions adaptive = {}) {
  LimitTableOptions options;
  options.max_keys = max_keys;
  options.adaptive = adaptive;
  return options;
}

class LimitTableTest : public ::testing::Test {
 protected:
  SteadyTime At(Duration d) const { return t0_ + d; }
  void Set(LimitSpec spec) { ASSERT_TRUE(table_.Set(std::move(spec), t0_).ok()); }
  // Acquires and returns "granted" or "key (reason)".
  std::string Acquire(LimitTaskRef task, const Demand& demand, double priority = 0,
                      Duration at = {}) {
    absl::StatusOr<LimitAcquire> r = table_.Acquire(task, priority, demand, At(at));
    if (!r.ok()) return r.status().ToString();
    if (r->granted) return "granted";
    return absl::StrCat(r->key, " (", LimitBlockName(r->block), ")");
  }
  void Release(const Demand& demand, Duration at = {}, LimitRelease how = {}) {
    table_.Release(demand, how, At(at));
  }
  std::vector<LimitTaskRef> Started(Duration at) { return table_.Wake(At(at)).start; }
  int64_t HeldOn(absl::string_view key) {
    std::optional<LimitState> s = table_.Get(key, t0_);
    return s.has_value() ? s->in_flight : -1;
  }

  testing::FakeClock clock_;
  const SteadyTime t0_ = clock_.SteadyNow();
  LimitTable table_;
};

TEST_F(LimitTableTest, SetsListsAndDeletesKeysAtRunTime) {
  Set(Rate("openai", 500, minutes(1)));
  Set(InFlight("db", 4));
  EXPECT_EQ(table_.configured(), 2u);
  std::vector<LimitState> list = table_.List(t0_);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].spec.key, "db");
  EXPECT_EQ(list[0].spec.max_in_flight, 4);
  EXPECT_EQ(list[1].spec.key, "openai");
  EXPECT_THAT(list[1].available, ElementsAre(500));
  EXPECT_THAT(list[1].effective_rate, ElementsAre(500));

  Set(Rate("openai", 90'000, minutes(1)));  // an update, not a third key
  EXPECT_EQ(table_.configured(), 2u);
  EXPECT_THAT(table_.Get("openai", t0_)->effective_rate, ElementsAre(90'000));

  EXPECT_TRUE(table_.Delete("db", t0_).ok());
  const absl::Status again = table_.Delete("db", t0_);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(again.message(), "No limit 'db'");
  EXPECT_EQ(table_.Get("db", t0_), std::nullopt);
  EXPECT_EQ(table_.configured(), 1u);
  EXPECT_EQ(table_.keys(), 1u);
}

TEST_F(LimitTableTest, RefusesAnInvalidSpecAndKeysPastTheMaximum) {
  LimitTable table(Options(2));
  const absl::Status bad = table.Set(Rate("openai", 10, seconds(0)), t0_);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "Limit 'openai': rates[0].period must be positive, got 0");
  ASSERT_TRUE(table.Set(InFlight("a", 1), t0_).ok());
  ASSERT_TRUE(table.Set(InFlight("b", 1), t0_).ok());
  const absl::Status full = table.Set(InFlight("c", 1), t0_);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.message(),
            "Cannot add limit 'c': 2 keys are configured, the most allowed (max_keys)");
  EXPECT_TRUE(table.Set(InFlight("b", 7), t0_).ok());
}

TEST_F(LimitTableTest, HoldsAHundredThousandKeys) {
  for (int i = 0; i < 100'000; ++i) Set(InFlight(absl::StrCat("tenant:", i), 1));
  EXPECT_EQ(table_.configured(), 100'000u);
  EXPECT_EQ(table_.Set(InFlight("one-more", 1), t0_).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Acquire({1, 0}, {{"tenant:99999", 1}}), "granted");
  EXPECT_EQ(Acquire({1, 1}, {{"tenant:99999", 1}}), "tenant:99999 (concurrency)");
  EXPECT_EQ(table_.List(t0_).size(), 100'000u);
}

TEST_F(LimitTableTest, ChecksDemandsAtSubmitNamingTheField) {
  Set({"openai",
       std::nullopt,
       {{500, minutes(1), std::nullopt, RateMeasure::kRequests}, {90'000, minutes(1), 1000}}});
  EXPECT_TRUE(table_.CheckDemand(Demand{{"openai", 1000}}, false).ok());
  const absl::Status status = table_.CheckDemand(
      Demand{{"openai", 1200}, {"anthropic", 1}, {"openai", 1}, {"db", 0}}, false);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      FieldViolationsOf(status),
      ElementsAre(FieldViolation{"limits[0].units",
                                 "1200 units exceed the burst 1000 of limit 'openai' rate 1 "
                                 "(90000 per 1m (burst 1000))"},
                  FieldViolation{"limits[1].key", "Unknown limit 'anthropic'"},
                  FieldViolation{"limits[2].key", "Limit 'openai' is named twice"},
                  FieldViolation{"limits[3].units",
                                 "Units for limit 'db' must be 1 to 1099511627776, got 0"}));
  EXPECT_TRUE(table_.CheckDemand(Demand{{"anthropic", 5}}, /*allow_unknown=*/true).ok());
}

TEST_F(LimitTableTest, AWaiterForASlotStartsWhenOneIsReleased) {
  Set(InFlight("db", 1));
  EXPECT_EQ(Acquire({1, 0}, {{"db", 1}}), "granted");
  EXPECT_EQ(Acquire({1, 1}, {{"db", 1}}), "db (concurrency)");
  EXPECT_THAT(table_.WaitingFor({1, 1}), Optional(Pair("db", LimitBlock::kConcurrency)));
  LimitWakeups none = table_.Wake(t0_);
  EXPECT_THAT(none.start, IsEmpty());
  EXPECT_EQ(none.next_wake, std::nullopt);  // no timer: only a release helps
  EXPECT_EQ(table_.Get("db", t0_)->waiting, 1u);

  Release({{"db", 1}}, milliseconds(5));
  EXPECT_THAT(Started(milliseconds(5)), ElementsAre(LimitTaskRef{1, 1}));
  EXPECT_EQ(HeldOn("db"), 1);
  EXPECT_EQ(table_.waiting(), 0u);
  EXPECT_EQ(table_.WaitingFor({1, 1}), std::nullopt);
}

TEST_F(LimitTableTest, ARateWaiterWakesAtTheExactRefillTime) {
  Set(Rate("api", 4, seconds(1), 2));
  EXPECT_EQ(Acquire({1, 0}, {{"api", 1}}), "granted");
  EXPECT_EQ(Acquire({1, 1}, {{"api", 1}}), "granted");
  EXPECT_EQ(Acquire({1, 2}, {{"api", 1}}), "api (rate)");
  EXPECT_EQ(table_.Wake(t0_).next_wake, At(milliseconds(250)));
  LimitWakeups early = table_.Wake(At(milliseconds(249)));
  EXPECT_THAT(early.start, IsEmpty());
  EXPECT_EQ(early.next_wake, At(milliseconds(250)));
  LimitWakeups due = table_.Wake(At(milliseconds(250)));
  EXPECT_THAT(due.start, ElementsAre(LimitTaskRef{1, 2}));
  EXPECT_EQ(due.next_wake, std::nullopt);
}

// The workload: 10,000 tasks on 1,000 units/s with burst 100. The first 100 start at
// once, then exactly one per millisecond: never more than burst + rate x window in a window.
TEST_F(LimitTableTest, StartsTasksAtExactlyTheConfiguredRateAfterTheBurst) {
  Set(Rate("api", 1000, seconds(1), 100));
  std::vector<SteadyTime> started;
  for (uint32_t t = 0; t < 10'000; ++t) {
    if (Acquire({1, t}, {{"api", 1}}) == "granted") started.push_back(t0_);
  }
  ASSERT_EQ(started.size(), 100u);
  std::optional<SteadyTime> wake = table_.Wake(t0_).next_wake;
  while (wake.has_value()) {
    LimitWakeups w = table_.Wake(*wake);
    for (size_t i = 0; i < w.start.size(); ++i) started.push_back(*wake);
    wake = w.next_wake;
  }
  ASSERT_EQ(started.size(), 10'000u);
  for (size_t i = 100; i < started.size(); ++i) {
    ASSERT_EQ(started[i], At(milliseconds(i - 99))) << "task " << i;
  }
}

TEST_F(LimitTableTest, WaitersGoByPriorityThenTakeTurnsBetweenBatches) {
  Set(InFlight("db", 1));
  ASSERT_EQ(Acquire({9, 0}, {{"db", 1}}), "granted");
  for (uint32_t t = 0; t < 4; ++t) ASSERT_EQ(Acquire({1, t}, {{"db", 1}}), "db (concurrency)");
  ASSERT_EQ(Acquire({2, 0}, {{"db", 1}}), "db (concurrency)");
  ASSERT_EQ(Acquire({2, 1}, {{"db", 1}}), "db (concurrency)");
  ASSERT_EQ(Acquire({3, 0}, {{"db", 1}}, /*priority=*/5), "db (concurrency)");
  std::vector<LimitTaskRef> order;
  for (int i = 0; i < 7; ++i) {
    Release({{"db", 1}});
    for (LimitTaskRef t : Started({})) order.push_back(t);
  }
  EXPECT_THAT(order, ElementsAre(LimitTaskRef{3, 0}, LimitTaskRef{1, 0}, LimitTaskRef{2, 0},
                                 LimitTaskRef{1, 1}, LimitTaskRef{2, 1}, LimitTaskRef{1, 2},
                                 LimitTaskRef{1, 3}));
}

TEST_F(LimitTableTest, ANewTaskWaitsBehindEqualPriorityWaitersEvenIfItWouldFit) {
  Set(Rate("api", 10, seconds(1)));
  ASSERT_EQ(Acquire({1, 0}, {{"api", 10}}), "granted");
  ASSERT_EQ(Acquire({1, 1}, {{"api", 5}}), "api (rate)");
  EXPECT_EQ(table_.Wake(t0_).next_wake, At(milliseconds(500)));
  // At 100 ms one unit is back: enough for a 1-unit task, but task 1.1 waits first.
  EXPECT_EQ(Acquire({2, 0}, {{"api", 1}}, 0, milliseconds(100)), "api (queued)");
  // A more urgent task may pass.
  EXPECT_EQ(Acquire({3, 0}, {{"api", 1}}, 1, milliseconds(100)), "granted");
  LimitWakeups w = table_.Wake(At(milliseconds(100)));
  EXPECT_THAT(w.start, IsEmpty());
  EXPECT_EQ(w.next_wake, At(milliseconds(600)));  // 5 more units after the one taken
  w = table_.Wake(At(milliseconds(600)));
  EXPECT_THAT(w.start, ElementsAre(LimitTaskRef{1, 1}));
  EXPECT_EQ(w.next_wake, At(milliseconds(700)));
  EXPECT_THAT(Started(milliseconds(700)), ElementsAre(LimitTaskRef{2, 0}));
}

TEST_F(LimitTableTest, ATaskTakesAllItsKeysOrNoneAndWaitsOnTheOneThatRefused) {
  Set(InFlight("a", 1));
  Set(InFlight("b", 1));
  ASSERT_EQ(Acquire({1, 0}, {{"a", 1}}), "granted");
  EXPECT_EQ(Acquire({2, 0}, {{"a", 1}, {"b", 1}}), "a (concurrency)");
  EXPECT_EQ(HeldOn("b"), 0);  // waiting on a, it holds nothing of b
  EXPECT_EQ(Acquire({3, 0}, {{"b", 1}}), "granted");

  Release({{"a", 1}});
  EXPECT_THAT(Started({}), IsEmpty());
  EXPECT_THAT(table_.WaitingFor({2, 0}), Optional(Pair("b", LimitBlock::kConcurrency)));
  EXPECT_EQ(HeldOn("a"), 0);  // nor of a while it waits on b
  EXPECT_EQ(Acquire({4, 0}, {{"a", 1}}), "granted");

  Release({{"b", 1}});
  Release({{"a", 1}});
  EXPECT_THAT(Started({}), ElementsAre(LimitTaskRef{2, 0}));
  EXPECT_EQ(HeldOn("a"), 1);
  EXPECT_EQ(HeldOn("b"), 1);
}

TEST_F(LimitTableTest, TasksNamingKeysInOppositeOrdersCannotDeadlock) {
  Set(InFlight("a", 1));
  Set(InFlight("b", 1));
  ASSERT_EQ(Acquire({1, 0}, {{"a", 1}}), "granted");
  ASSERT_EQ(Acquire({2, 0}, {{"b", 1}}), "granted");
  ASSERT_EQ(Acquire({3, 0}, {{"a", 1}, {"b", 1}}), "a (concurrency)");
  ASSERT_EQ(Acquire({4, 0}, {{"b", 1}, {"a", 1}}), "b (concurrency)");
  Release({{"a", 1}});
  EXPECT_THAT(Started({}), IsEmpty());  // 3.0 moves to b's queue, behind 4.0
  EXPECT_EQ(HeldOn("a"), 0);
  Release({{"b", 1}});
  EXPECT_THAT(Started({}), ElementsAre(LimitTaskRef{4, 0}));
  Release({{"b", 1}, {"a", 1}});
  EXPECT_THAT(Started({}), ElementsAre(LimitTaskRef{3, 0}));
  Release({{"a", 1}, {"b", 1}});
  EXPECT_EQ(HeldOn("a"), 0);
  EXPECT_EQ(HeldOn("b"), 0);
  EXPECT_EQ(table_.waiting(), 0u);
}

TEST_F(LimitTableTest, AWaiterFromAnotherKeyPassesOnlyLowerPriorityWaiters) {
  Set(InFlight("a", 1));
  Set(Rate("b", 10, seconds(1)));
  ASSERT_EQ(Acquire({1, 0}, {{"a", 1}}), "granted");
  ASSERT_EQ(Acquire({1, 1}, {{"b", 10}}), "granted");
  ASSERT_EQ(Acquire({2, 0}, {{"a", 1}, {"b", 1}}, 1), "a (concurrency)");
  ASSERT_EQ(Acquire({3, 0}, {{"b", 5}}, 2), "b (rate)");
  // At 100 ms a is free and b has the 1 unit 2.0 needs, but 3.0 waits on b and comes first.
  Release({{"a", 1}}, milliseconds(100));
  EXPECT_THAT(Started(milliseconds(100)), IsEmpty());
  EXPECT_THAT(table_.WaitingFor({2, 0}), Optional(Pair("b", LimitBlock::kQueued)));
  LimitWakeups w = table_.Wake(At(milliseconds(500)));
  EXPECT_THAT(w.start, ElementsAre(LimitTaskRef{3, 0}));
  EXPECT_EQ(w.next_wake, At(milliseconds(600)));
  EXPECT_THAT(Started(milliseconds(600)), ElementsAre(LimitTaskRef{2, 0}));
}

TEST_F(LimitTableTest, ARefundWakesAWaiterSoonerAndADebtLater) {
  Set(Rate("tokens", 10, seconds(1)));
  ASSERT_EQ(Acquire({1, 0}, {{"tokens", 10}}), "granted");
  ASSERT_EQ(Acquire({1, 1}, {{"tokens", 10}}), "tokens (rate)");
  EXPECT_EQ(table_.Wake(t0_).next_wake, At(seconds(1)));
  // Used 4 of 10: at 200 ms, 2 refilled + 6 refunded = 8, so 10 at 400 ms.
  Release({{"tokens", 10}}, milliseconds(200), Used(4));
  EXPECT_EQ(table_.Wake(At(milliseconds(200))).next_wake, At(milliseconds(400)));
  EXPECT_THAT(Started(milliseconds(400)), ElementsAre(LimitTaskRef{1, 1}));

  ASSERT_EQ(Acquire({1, 2}, {{"tokens", 10}}, 0, milliseconds(400)), "tokens (rate)");
  // Used 15 of 10: at 500 ms, 1 refilled - 5 of debt = -4, so 10 at 1.9 s.
  Release({{"tokens", 10}}, milliseconds(500), Used(15));
  EXPECT_DOUBLE_EQ(table_.Get("tokens", At(milliseconds(500)))->available[0], -4);
  LimitWakeups w = table_.Wake(At(milliseconds(500)));
  EXPECT_THAT(w.start, IsEmpty());
  EXPECT_EQ(w.next_wake, At(milliseconds(1900)));
  EXPECT_THAT(Started(milliseconds(1899)), IsEmpty());
  EXPECT_THAT(Started(milliseconds(1900)), ElementsAre(LimitTaskRef{1, 2}));
}

TEST_F(LimitTableTest, RetryAfterPausesTheKeyForEveryBatch) {
  Set({"api", 10, {{10, seconds(1), std::nullopt}}});
  ASSERT_EQ(Acquire({1, 0}, {{"api", 1}}), "granted");
  Release({{"api", 1}}, milliseconds(100),
          Ended(t0_, LimitRelease::Verdict::kThrottled, At(seconds(2))));
  EXPECT_EQ(Acquire({2, 0}, {{"api", 1}}, 0, milliseconds(100)), "api (paused)");
  LimitState state = *table_.Get("api", At(milliseconds(100)));
  EXPECT_EQ(state.paused_until, At(seconds(2)));
  EXPECT_EQ(state.throttled, 1);
  EXPECT_EQ(state.rate_factor, 500'000);
  EXPECT_THAT(state.effective_rate, ElementsAre(5));
  EXPECT_EQ(table_.Wake(At(milliseconds(100))).next_wake, At(seconds(2)));
  // Nothing saved up during the pause: the first unit after it comes at the cut 5/s.
  EXPECT_THAT(Started(seconds(2)), IsEmpty());
  EXPECT_THAT(Started(milliseconds(2199)), IsEmpty());
  EXPECT_THAT(Started(milliseconds(2200)), ElementsAre(LimitTaskRef{2, 0}));
}

TEST_F(LimitTableTest, SuccessesRestoreTheRateCutByAThrottle) {
  LimitTable table(Options(10, {kFullRate / 2, kFullRate / 20, kFullRate / 4}));
  ASSERT_TRUE(table.Set(Rate("api", 100, seconds(1)), t0_).ok());
  const Demand api{{"api", 1}};
  ASSERT_TRUE(table.Acquire({1, 0}, 0, api, t0_)->granted);
  table.Release(api, Ended(t0_, LimitRelease::Verdict::kThrottled), At(seconds(1)));
  EXPECT_THAT(table.Get("api", t0_)->effective_rate, ElementsAre(50));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(table.Acquire({1, 1}, 0, api, At(seconds(2)))->granted);
    table.Release(api, Ended(At(seconds(2)), LimitRelease::Verdict::kSucceeded), At(seconds(2)));
  }
  EXPECT_EQ(table.Get("api", t0_)->rate_factor, kFullRate);  // 50% + 3 x 25%, capped
  EXPECT_THAT(table.Get("api", t0_)->effective_rate, ElementsAre(100));
}

TEST_F(LimitTableTest, UnknownKeysAreUnlimitedAndForgottenWhenIdle) {
  for (uint32_t t = 0; t < 1000; ++t) {
    ASSERT_EQ(Acquire({1, t}, {{absl::StrCat("tenant:", t), 1}}), "granted");
  }
  EXPECT_EQ(table_.keys(), 1000u);
  EXPECT_EQ(table_.configured(), 0u);
  for (uint32_t t = 0; t < 1000; ++t) Release({{absl::StrCat("tenant:", t), 1}});
  EXPECT_EQ(table_.keys(), 0u);
}

TEST_F(LimitTableTest, APausedUnknownKeyIsKeptUntilThePauseEnds) {
  ASSERT_EQ(Acquire({1, 0}, {{"tenant:1", 1}}), "granted");
  Release({{"tenant:1", 1}}, {}, Ended(t0_, LimitRelease::Verdict::kOther, At(seconds(3))));
  EXPECT_EQ(table_.keys(), 1u);
  EXPECT_EQ(Acquire({2, 0}, {{"tenant:1", 1}}), "tenant:1 (paused)");
  table_.Leave({2, 0}, t0_);
  EXPECT_EQ(table_.waiting(), 0u);
  LimitWakeups w = table_.Wake(t0_);
  EXPECT_EQ(w.next_wake, At(seconds(3)));
  EXPECT_EQ(table_.keys(), 1u);
  w = table_.Wake(At(seconds(3)));
  EXPECT_EQ(w.next_wake, std::nullopt);
  EXPECT_EQ(table_.keys(), 0u);
}

TEST_F(LimitTableTest, DeletingAKeyStartsItsWaitersAndForgetsItWhenIdle) {
  Set(InFlight("db", 1));
  ASSERT_EQ(Acquire({1, 0}, {{"db", 1}}), "granted");
  ASSERT_EQ(Acquire({1, 1}, {{"db", 1}}), "db (concurrency)");
  ASSERT_TRUE(table_.Delete("db", t0_).ok());
  EXPECT_THAT(Started({}), ElementsAre(LimitTaskRef{1, 1}));
  EXPECT_EQ(table_.keys(), 1u);  // two tasks still hold it
  Release({{"db", 1}});
  Release({{"db", 1}});
  EXPECT_EQ(table_.keys(), 0u);
}

TEST_F(LimitTableTest, AWaiterWhoseUnitsNoLongerFitIsRefused) {
  Set(Rate("tokens", 100, seconds(1)));
  ASSERT_EQ(Acquire({1, 0}, {{"tokens", 100}}), "granted");
  ASSERT_EQ(Acquire({1, 1}, {{"tokens", 50}}), "tokens (rate)");
  Set(Rate("tokens", 100, seconds(1), 20));
  LimitWakeups w = table_.Wake(t0_);
  EXPECT_THAT(w.start, IsEmpty());
  ASSERT_EQ(w.refused.size(), 1u);
  EXPECT_EQ(w.refused[0].first, (LimitTaskRef{1, 1}));
  EXPECT_EQ(w.refused[0].second.message(),
            "50 units exceed the burst 20 of limit 'tokens' rate 0 (100 per 1s (burst 20))");
  EXPECT_EQ(table_.waiting(), 0u);
  const absl::StatusOr<LimitAcquire> again = table_.Acquire({1, 2}, 0, {{"tokens", 50}}, t0_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LimitTableTest, ALeavingWaiterIsNeverStarted) {
  Set(InFlight("db", 1));
  ASSERT_EQ(Acquire({1, 0}, {{"db", 1}}), "granted");
  for (uint32_t t = 1; t <= 500; ++t) ASSERT_NE(Acquire({1, t}, {{"db", 1}}), "granted");
  EXPECT_EQ(Acquire({1, 7}, {{"db", 1}}),
            "FAILED_PRECONDITION: Task 7 of batch 1 already waits for limits");
  for (uint32_t t = 1; t < 500; ++t) table_.Leave({1, t}, t0_);
  EXPECT_EQ(table_.waiting(), 1u);
  EXPECT_EQ(table_.Get("db", t0_)->waiting, 1u);
  Release({{"db", 1}});
  EXPECT_THAT(Started({}), ElementsAre(LimitTaskRef{1, 500}));
  EXPECT_EQ(table_.waiting(), 0u);
}

}  // namespace
}  // namespace batchd::core
