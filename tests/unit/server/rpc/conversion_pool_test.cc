#include "server/rpc/conversion_pool.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

// Long enough never to expire on a loaded machine; only a broken pool waits for it.
constexpr absl::Duration kNever = absl::Seconds(30);

TEST(ConversionPoolTest, RunsJobsOffThePostersThread) {
  ConversionPool pool(2);
  constexpr int kJobs = 100;
  absl::BlockingCounter done(kJobs);
  std::atomic<int> on_poster{0};
  const std::thread::id poster = std::this_thread::get_id();
  for (int i = 0; i < kJobs; ++i) {
    pool.Post([&] {
      if (std::this_thread::get_id() == poster) ++on_poster;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(on_poster.load(), 0);
}

TEST(ConversionPoolTest, RunsJobsSideBySideOnItsThreads) {
  ConversionPool pool(2);
  absl::Notification second_ran;
  absl::Notification first_saw_it;
  // With one thread the first job would hold up the second and give up after kNever.
  pool.Post([&] {
    if (second_ran.WaitForNotificationWithTimeout(kNever)) first_saw_it.Notify();
  });
  pool.Post([&] { second_ran.Notify(); });
  EXPECT_TRUE(first_saw_it.WaitForNotificationWithTimeout(kNever));
}

TEST(ConversionPoolTest, DestructorRunsEverythingPostedBeforeItAndByJobs) {
  std::atomic<int> ran{0};
  absl::Notification release;
  {
    ConversionPool pool(1);
    pool.Post([&] { release.WaitForNotification(); });
    for (int i = 0; i < 50; ++i) pool.Post([&] { ++ran; });
    pool.Post([&] {
      ++ran;
      pool.Post([&] { ++ran; });  // a job handing on, as a stream's turn does
    });
    release.Notify();
  }
  EXPECT_EQ(ran.load(), 52);
}

TEST(ConversionPoolTest, TakesMoveOnlyJobs) {
  ConversionPool pool(1);
  absl::Notification done;
  auto value = std::make_unique<int>(7);
  int seen = 0;
  pool.Post([&, value = std::move(value)] {
    seen = *value;
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kNever));
  EXPECT_EQ(seen, 7);
}

TEST(ConversionPoolTest, JoinRunsWhatIsQueuedAndASecondJoinReturns) {
  ConversionPool pool(1);
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) pool.Post([&] { ++ran; });
  pool.Join();
  EXPECT_EQ(ran.load(), 10);
  pool.Join();
  EXPECT_EQ(ran.load(), 10);
}

TEST(ConversionPoolTest, HasAtLeastOneThread) {
  EXPECT_EQ(ConversionPool(0).threads(), 1u);
  EXPECT_EQ(ConversionPool(3).threads(), 3u);
  EXPECT_GE(ConversionPool::DefaultThreads(), 1u);
}

}  // namespace
}  // namespace batchd::server
