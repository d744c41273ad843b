// BatchRetention: finished batches evicted by one timer once their retention ends, or at once
// over the count.
#include "core/scheduling/batch_retention.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
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

class BatchRetentionTest : public ::testing::Test {
 protected:
  BatchRetentionTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {}

  BatchRetention Make(Duration retention, size_t max_batches) {
    return BatchRetention(
        clock_, timers_, retention, max_batches,
        [this](const std::shared_ptr<Batch>& b) { evicted_.push_back(b->seq()); });
  }
  std::shared_ptr<Batch> Finished(uint64_t seq) {
    auto batch = batches_.Make(seq);
    batches_.RunToEnd(*batch);
    return batch;
  }

  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  testing::TestBatches batches_{clock_};
  std::vector<uint64_t> evicted_;
};

TEST_F(BatchRetentionTest, ABatchIsEvictedWhenItsRetentionEnds) {
  BatchRetention retention = Make(seconds(10), 100);
  retention.Add(Finished(1));
  EXPECT_EQ(retention.size(), 1u);
  EXPECT_EQ(timers_.pending(), 1u);
  timers_.Advance(seconds(10) - milliseconds(1));
  EXPECT_THAT(evicted_, ElementsAre());
  timers_.Advance(milliseconds(1));
  EXPECT_THAT(evicted_, ElementsAre(1u));
  EXPECT_EQ(retention.size(), 0u);
  EXPECT_EQ(timers_.pending(), 0u);  // nothing left to wait for
}

TEST_F(BatchRetentionTest, OneTimerFollowsTheOldestBatch) {
  BatchRetention retention = Make(seconds(10), 100);
  retention.Add(Finished(1));
  timers_.Advance(seconds(4));
  retention.Add(Finished(2));
  EXPECT_EQ(timers_.pending(), 1u);
  timers_.Advance(seconds(6));
  EXPECT_THAT(evicted_, ElementsAre(1u));
  EXPECT_EQ(timers_.pending(), 1u);
  timers_.Advance(seconds(4) - milliseconds(1));
  EXPECT_THAT(evicted_, ElementsAre(1u));
  timers_.Advance(milliseconds(1));
  EXPECT_THAT(evicted_, ElementsAre(1u, 2u));
}

TEST_F(BatchRetentionTest, OverTheCountTheOldestIsEvictedAtOnce) {
  BatchRetention retention = Make(std::chrono::hours(1), 2);
  retention.Add(Finished(1));
  retention.Add(Finished(2));
  EXPECT_THAT(evicted_, ElementsAre());
  retention.Add(Finished(3));
  EXPECT_THAT(evicted_, ElementsAre(1u));
  EXPECT_EQ(retention.size(), 2u);
}

TEST_F(BatchRetentionTest, RecoveredBatchesGoByTheirFinishTime) {
  BatchRetention retention = Make(seconds(10), 100);
  auto late = Finished(1);
  timers_.Advance(seconds(3));
  auto later = Finished(2);
  // Recovery hands them over out of finish order.
  retention.AddRecovered(later);
  retention.AddRecovered(late);
  timers_.Advance(seconds(7));
  EXPECT_THAT(evicted_, ElementsAre(1u));
  timers_.Advance(seconds(3));
  EXPECT_THAT(evicted_, ElementsAre(1u, 2u));
}

TEST_F(BatchRetentionTest, ARecoveredBatchPastItsRetentionIsEvictedAtOnce) {
  BatchRetention retention = Make(seconds(10), 100);
  auto old = Finished(1);
  clock_.Set(clock_.SteadyNow() + seconds(11));
  retention.AddRecovered(old);
  EXPECT_THAT(evicted_, ElementsAre(1u));
  EXPECT_EQ(timers_.pending(), 0u);
}

}  // namespace
}  // namespace batchd::core
