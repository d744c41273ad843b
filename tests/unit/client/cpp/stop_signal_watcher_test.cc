// StopSignalWatcher with real signals raised in this process (each ctest case is its own
// process, so the process-wide dispositions it changes are this test's alone). Waits for the
// watcher's thread are bounded; nothing sleeps.
#include "client/cpp/stop_signal_watcher.h"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace batchd::client {
namespace {

// Generous: the watcher's thread may wait for a busy 2-core machine.
constexpr absl::Duration kPatience = absl::Seconds(30);

class StopSignalWatcherTest : public ::testing::Test {
 protected:
  void OnSignal() {
    absl::MutexLock lock(&mu_);
    ++calls_;
    caller_ = std::this_thread::get_id();
  }
  // False when fewer than `n` calls arrived within kPatience.
  bool WaitForCalls(int n) {
    absl::MutexLock lock(&mu_);
    const auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience);
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::thread::id caller() {
    absl::MutexLock lock(&mu_);
    return caller_;
  }
  static void (*Disposition(int signal_number))(int) {
    struct sigaction current {};
    sigaction(signal_number, nullptr, &current);
    return current.sa_handler;
  }

  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread::id caller_ ABSL_GUARDED_BY(mu_);
};

TEST_F(StopSignalWatcherTest, SigtermCallsBackOnTheWatchersThread) {
  StopSignalWatcher watcher([this] { OnSignal(); });
  ASSERT_EQ(raise(SIGTERM), 0);
  ASSERT_TRUE(WaitForCalls(1));
  EXPECT_NE(caller(), std::this_thread::get_id());
}

TEST_F(StopSignalWatcherTest, SigintCallsBackToo) {
  StopSignalWatcher watcher([this] { OnSignal(); });
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_TRUE(WaitForCalls(1));
}

TEST_F(StopSignalWatcherTest, EverySignalCallsBackAgain) {
  StopSignalWatcher watcher([this] { OnSignal(); });
  ASSERT_EQ(raise(SIGINT), 0);
  ASSERT_TRUE(WaitForCalls(1));
  ASSERT_EQ(raise(SIGTERM), 0);
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_TRUE(WaitForCalls(3)) << calls();
}

TEST_F(StopSignalWatcherTest, NoSignalNoCall) {
  {
    StopSignalWatcher watcher([this] { OnSignal(); });
  }  // a hang here fails by ctest's timeout
  EXPECT_EQ(calls(), 0);
}

TEST_F(StopSignalWatcherTest, InstallsItsHandlerAndRestoresTheDefaults) {
  ASSERT_EQ(Disposition(SIGINT), SIG_DFL);
  {
    StopSignalWatcher watcher([this] { OnSignal(); });
    EXPECT_NE(Disposition(SIGINT), SIG_DFL);
    EXPECT_NE(Disposition(SIGTERM), SIG_DFL);
  }
  EXPECT_EQ(Disposition(SIGINT), SIG_DFL);
  EXPECT_EQ(Disposition(SIGTERM), SIG_DFL);
}

TEST_F(StopSignalWatcherTest, ALaterWatcherGetsTheSignals) {
  {
    StopSignalWatcher first([] { ADD_FAILURE() << "the first watcher was called"; });
  }
  StopSignalWatcher second([this] { OnSignal(); });
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_TRUE(WaitForCalls(1));
}

}  // namespace
}  // namespace batchd::client
