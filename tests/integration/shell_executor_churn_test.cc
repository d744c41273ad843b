// 10,000 runs of /bin/true through ShellExecutor leave no zombie and no open descriptor. Real
// processes on a real io_context (two threads), like the daemon; integration-labelled because
// process creation on a busy 2-core machine makes it take up to a minute.
#include <dirent.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdint>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/executors/shell/shell_executor.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

template <typename F>
bool Eventually(F condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

int OpenFdCount() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory stream itself
}

// Each completion starts the next run (through the strand), keeping a fixed number in flight.
class ChainingSink final : public CompletionSink {
 public:
  explicit ChainingSink(absl::AnyInvocable<void()> start_next)
      : start_next_(std::move(start_next)) {}
  void Complete(const AttemptToken&, ExecutionOutcome outcome) override {
    start_next_();  // before counting: once all are counted, every post has been made
    (outcome.success ? succeeded : failed).fetch_add(1);
  }
  std::atomic<uint32_t> succeeded{0};
  std::atomic<uint32_t> failed{0};

 private:
  absl::AnyInvocable<void()> start_next_;
};

TEST(ShellExecutorChurnTest, TenThousandRunsLeaveNoZombieAndNoDescriptor) {
  constexpr uint32_t kRuns = 10000;
  constexpr uint32_t kConcurrency = 8;
  boost::asio::io_context io;
  auto strand = boost::asio::make_strand(io);
  auto work = boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });
  ShellExecutor shell(io, ShellOptions{});
  const boost::json::value input = boost::json::object{{"argv", {"/bin/true"}}};

  uint32_t started = 0;  // on the strand only
  std::unique_ptr<ChainingSink> sink;
  const auto start_one = [&] {
    if (started == kRuns) return;
    const AttemptToken token{1, started++, 0};
    shell.Start(ExecutionRequest{token, "batch", "task", input, 0, 0, 0, SteadyTime{}}, *sink);
  };
  sink = std::make_unique<ChainingSink>([&] { boost::asio::post(strand, start_one); });
  // Runs first on any return: no handler may run once the executor and the sink are gone.
  absl::Cleanup stop_threads = [&] {
    work.reset();
    io.stop();
    for (std::thread& t : threads) t.join();
  };
  const auto on_strand = [&](auto f) {
    absl::Notification done;
    boost::asio::post(strand, [&] {
      f();
      done.Notify();
    });
    done.WaitForNotification();
  };

  // One run first, outside the chain: asio opens its reactor's descriptors on first use.
  class NotifyingSink final : public CompletionSink {
   public:
    void Complete(const AttemptToken&, ExecutionOutcome) override { done.Notify(); }
    absl::Notification done;
  } warm_up;
  on_strand([&] {
    shell.Start(ExecutionRequest{{1, kRuns, 0}, "batch", "task", input, 0, 0, 0, SteadyTime{}},
                warm_up);
  });
  ASSERT_TRUE(warm_up.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(Eventually([&] { return shell.tracked() == 0; }, absl::Seconds(30)));
  const int fds_before = OpenFdCount();

  const absl::Time begin = absl::Now();
  on_strand([&] {
    for (uint32_t i = 0; i < kConcurrency; ++i) start_one();
  });
  ASSERT_TRUE(
      Eventually([&] { return sink->succeeded + sink->failed >= kRuns; }, absl::Seconds(240)));
  on_strand([] {});  // the last completions' posts have run
  std::cerr << kRuns << " runs of /bin/true at concurrency " << kConcurrency << " took "
            << absl::Now() - begin << "\n";
  EXPECT_EQ(sink->succeeded, kRuns);
  ASSERT_TRUE(Eventually([&] { return shell.tracked() == 0; }, absl::Seconds(30)));
  EXPECT_TRUE(Eventually([&] { return OpenFdCount() == fds_before; }, absl::Seconds(30)))
      << OpenFdCount() << " descriptors open, " << fds_before << " before";
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace batchd::core
