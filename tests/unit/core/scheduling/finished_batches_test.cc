// FinishedBatches: finished batches in finish order, evicted past their retention or over the
// count, oldest first.
#include "core/scheduling/finished_batches.h"

#include <chrono>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;

class FinishedBatchesTest : public ::testing::Test {
 protected:
  // A batch finished at `at` (the clock stays there).
  std::shared_ptr<Batch> FinishedAt(uint64_t seq, SteadyTime at) {
    clock_.Set(at);
    auto batch = batches_.Make(seq);
    batches_.RunToEnd(*batch);
    return batch;
  }
  // Sequences of every batch due at `now`, in eviction order.
  std::vector<uint64_t> PopAll(FinishedBatches& finished, SteadyTime now) {
    std::vector<uint64_t> seqs;
    while (const std::shared_ptr<Batch> b = finished.PopExpired(now)) seqs.push_back(b->seq());
    return seqs;
  }

  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
  const SteadyTime t0_ = clock_.SteadyNow();
};

TEST_F(FinishedBatchesTest, EvictsOnlyOnceTheRetentionHasPassed) {
  FinishedBatches finished(seconds(10), 100);
  finished.Add(FinishedAt(1, t0_));
  EXPECT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished.PopExpired(t0_ + seconds(10) - milliseconds(1)), nullptr);
  EXPECT_EQ(finished.size(), 1u);
  const std::shared_ptr<Batch> evicted = finished.PopExpired(t0_ + seconds(10));
  ASSERT_NE(evicted, nullptr);
  EXPECT_EQ(evicted->seq(), 1u);
  EXPECT_EQ(finished.size(), 0u);
  EXPECT_EQ(finished.PopExpired(t0_ + seconds(100)), nullptr);
}

TEST_F(FinishedBatchesTest, NextExpiryIsTheOldestFinishPlusTheRetention) {
  FinishedBatches finished(seconds(10), 100);
  EXPECT_EQ(finished.NextExpiry(), std::nullopt);
  finished.Add(FinishedAt(1, t0_ + seconds(1)));
  finished.Add(FinishedAt(2, t0_ + seconds(5)));
  EXPECT_EQ(finished.NextExpiry(), t0_ + seconds(11));
  EXPECT_THAT(PopAll(finished, t0_ + seconds(11)), ElementsAre(1u));
  EXPECT_EQ(finished.NextExpiry(), t0_ + seconds(15));
}

TEST_F(FinishedBatchesTest, OverTheCountTheOldestGoFirstWhateverTheirAge) {
  FinishedBatches finished(std::chrono::hours(1), 2);
  finished.Add(FinishedAt(1, t0_));
  finished.Add(FinishedAt(2, t0_ + seconds(1)));
  EXPECT_THAT(PopAll(finished, t0_ + seconds(1)), ElementsAre());
  finished.Add(FinishedAt(3, t0_ + seconds(2)));
  finished.Add(FinishedAt(4, t0_ + seconds(3)));
  EXPECT_THAT(PopAll(finished, t0_ + seconds(3)), ElementsAre(1u, 2u));
  EXPECT_EQ(finished.size(), 2u);
}

TEST_F(FinishedBatchesTest, ACountOfZeroEvictsEachBatchAtOnce) {
  FinishedBatches finished(std::chrono::hours(1), 0);
  finished.Add(FinishedAt(1, t0_));
  EXPECT_THAT(PopAll(finished, t0_), ElementsAre(1u));
}

TEST_F(FinishedBatchesTest, RecoveredBatchesArePlacedByTheirFinishTime) {
  FinishedBatches finished(seconds(10), 100);
  // Recovery comes in admission order: 1 finished last, 3 first.
  auto b1 = FinishedAt(1, t0_ + seconds(5));
  auto b2 = FinishedAt(2, t0_ + seconds(3));
  auto b3 = FinishedAt(3, t0_ + seconds(1));
  finished.AddRecovered(b1);
  finished.AddRecovered(b2);
  finished.AddRecovered(b3);
  EXPECT_EQ(finished.NextExpiry(), t0_ + seconds(11));
  EXPECT_THAT(PopAll(finished, t0_ + seconds(13)), ElementsAre(3u, 2u));
  EXPECT_THAT(PopAll(finished, t0_ + seconds(15)), ElementsAre(1u));
}

TEST_F(FinishedBatchesTest, ARecoveredBatchFinishedAtTheSameTimeGoesAfter) {
  FinishedBatches finished(seconds(10), 100);
  finished.Add(FinishedAt(1, t0_));
  finished.AddRecovered(FinishedAt(2, t0_));
  finished.AddRecovered(FinishedAt(3, t0_ - seconds(1)));
  EXPECT_THAT(PopAll(finished, t0_ + seconds(10)), ElementsAre(3u, 1u, 2u));
}

}  // namespace
}  // namespace batchd::core
