// ParkingLot: tasks waiting for an executor's free slot, best first; stale entries are skipped
// and dropped.
#include "core/scheduling/parking_lot.h"

#include <set>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/manual_executor.h"

namespace batchd::core {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Key = std::pair<uint64_t, uint32_t>;

class ParkingLotTest : public ::testing::Test {
 protected:
  // The caller's view of which tasks still wait: those parked and not yet gone.
  bool StillWaiting(const ParkedTask& p) const {
    return waiting_.contains(Key{p.batch_seq, p.task});
  }
  void Park(const Executor& executor, uint64_t seq, uint32_t task, double priority) {
    waiting_.insert({seq, task});
    lot_.Park(executor, seq, task, priority,
              [this](const ParkedTask& p) { return StillWaiting(p); });
  }
  std::optional<Key> Wake(const Executor& executor) {
    std::optional<ParkedTask> p =
        lot_.Wake(executor, [this](const ParkedTask& e) { return StillWaiting(e); });
    if (!p.has_value()) return std::nullopt;
    waiting_.erase({p->batch_seq, p->task});
    return Key{p->batch_seq, p->task};
  }

  testing::FakeClock clock_;
  testing::ManualExecutor executor_{clock_};
  testing::ManualExecutor other_{clock_};
  ParkingLot lot_;
  std::set<Key> waiting_;
};

TEST_F(ParkingLotTest, WakesHighestPriorityFirstThenFirstParked) {
  Park(executor_, 1, 0, 1.0);
  Park(executor_, 1, 1, 5.0);
  Park(executor_, 2, 0, 5.0);
  Park(executor_, 2, 1, 0.0);
  EXPECT_EQ(lot_.waiting(), 4u);
  EXPECT_EQ(lot_.waiting(executor_), 4u);

  EXPECT_EQ(Wake(executor_), Key(1, 1));
  EXPECT_EQ(Wake(executor_), Key(2, 0));
  EXPECT_EQ(Wake(executor_), Key(1, 0));
  EXPECT_EQ(lot_.waiting(executor_), 1u);
  EXPECT_EQ(Wake(executor_), Key(2, 1));
  EXPECT_EQ(Wake(executor_), std::nullopt);
  EXPECT_EQ(lot_.waiting(), 0u);
  EXPECT_EQ(lot_.entries(executor_), 0u);
}

TEST_F(ParkingLotTest, EachExecutorHasItsOwnLot) {
  Park(executor_, 1, 0, 0.0);
  Park(other_, 1, 1, 9.0);
  EXPECT_EQ(lot_.waiting(), 2u);
  EXPECT_EQ(lot_.waiting(executor_), 1u);
  EXPECT_EQ(lot_.waiting(other_), 1u);

  EXPECT_EQ(Wake(executor_), Key(1, 0));
  EXPECT_EQ(Wake(executor_), std::nullopt);
  EXPECT_EQ(lot_.waiting(other_), 1u);
  EXPECT_EQ(Wake(other_), Key(1, 1));
}

TEST_F(ParkingLotTest, AStaleEntryIsSkippedWhenWaking) {
  Park(executor_, 1, 0, 3.0);
  Park(executor_, 1, 1, 2.0);
  Park(executor_, 1, 2, 1.0);
  // The best task timed out: it left, its entry stays behind.
  waiting_.erase({1, 0});
  lot_.Leave(executor_);
  EXPECT_EQ(lot_.waiting(executor_), 2u);
  EXPECT_EQ(lot_.entries(executor_), 3u);

  EXPECT_EQ(Wake(executor_), Key(1, 1));
  EXPECT_EQ(lot_.entries(executor_), 1u);  // the stale entry went with it
  EXPECT_EQ(Wake(executor_), Key(1, 2));
  EXPECT_EQ(lot_.waiting(), 0u);
}

TEST_F(ParkingLotTest, WakeWithOnlyStaleEntriesLeftDropsTheLot) {
  Park(executor_, 1, 0, 0.0);
  Park(executor_, 1, 1, 0.0);
  waiting_.clear();  // both stopped waiting without leaving (their batch is gone)

  EXPECT_EQ(Wake(executor_), std::nullopt);
  EXPECT_EQ(lot_.waiting(), 0u);
  EXPECT_EQ(lot_.waiting(executor_), 0u);
  EXPECT_EQ(lot_.entries(executor_), 0u);
}

TEST_F(ParkingLotTest, LastLeaveDropsTheLotWithItsStaleEntries) {
  Park(executor_, 1, 0, 0.0);
  Park(executor_, 1, 1, 0.0);
  Park(other_, 2, 0, 0.0);
  lot_.Leave(executor_);
  EXPECT_EQ(lot_.entries(executor_), 2u);
  lot_.Leave(executor_);
  EXPECT_EQ(lot_.entries(executor_), 0u);
  EXPECT_EQ(lot_.waiting(), 1u);
  // Leaving an executor nobody waits for changes nothing.
  lot_.Leave(executor_);
  EXPECT_EQ(lot_.waiting(), 1u);
}

TEST_F(ParkingLotTest, WaitingListsOnlyTasksStillWaitingAndDropsTheStale) {
  Park(executor_, 1, 0, 0.0);
  Park(executor_, 1, 1, 4.0);
  Park(executor_, 3, 2, 2.0);
  waiting_.erase({1, 1});
  lot_.Leave(executor_);

  std::vector<Key> listed;
  for (const ParkedTask& p :
       lot_.Waiting(executor_, [this](const ParkedTask& e) { return StillWaiting(e); })) {
    listed.emplace_back(p.batch_seq, p.task);
  }
  EXPECT_THAT(listed, UnorderedElementsAre(Pair(1u, 0u), Pair(3u, 2u)));
  EXPECT_EQ(lot_.entries(executor_), 2u);
  EXPECT_TRUE(lot_.Waiting(other_, [](const ParkedTask&) { return true; }).empty());
  // Waking still goes best first after the compaction.
  EXPECT_EQ(Wake(executor_), Key(3, 2));
  EXPECT_EQ(Wake(executor_), Key(1, 0));
}

TEST_F(ParkingLotTest, StaleEntriesAreDroppedWhenTheHeapReaches1024) {
  for (uint32_t t = 0; t < 1023; ++t) {
    Park(executor_, 1, t, 0.0);
    if (t % 2 == 1) waiting_.erase({1, t});  // odd tasks stop waiting, entries stay
  }
  EXPECT_EQ(lot_.entries(executor_), 1023u);
  Park(executor_, 1, 1023, 0.0);             // the 1024th entry: compacts
  EXPECT_EQ(lot_.entries(executor_), 513u);  // 512 even tasks and the new one
  EXPECT_EQ(Wake(executor_), Key(1, 0));     // same priority: first parked
  EXPECT_EQ(Wake(executor_), Key(1, 2));
}

}  // namespace
}  // namespace batchd::core
