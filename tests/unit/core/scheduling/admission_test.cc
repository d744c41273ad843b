// Admission: resolved once, every waiter told exactly once with the first status, whether it
// waited before or asked after; waiters may ask again from inside their callback.
#include "core/scheduling/admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(AdmissionTest, ADecidedAdmissionAnswersAtOnceOnTheCallersThread) {
  std::shared_ptr<Admission> admission = Admission::Decided(absl::OkStatus());
  std::vector<std::string> seen;
  const std::thread::id caller = std::this_thread::get_id();
  admission->WhenResolved([&](absl::Status status) {
    seen.push_back(status.ToString());
    EXPECT_EQ(std::this_thread::get_id(), caller);
  });
  EXPECT_THAT(seen, ElementsAre("OK"));
}

TEST(AdmissionTest, WaitersHearTheStatusInTheOrderTheyCameOnceResolved) {
  Admission admission;
  std::vector<std::string> seen;
  admission.WhenResolved([&](absl::Status s) { seen.push_back("first " + s.ToString()); });
  admission.WhenResolved([&](absl::Status s) { seen.push_back("second " + s.ToString()); });
  EXPECT_THAT(seen, IsEmpty());
  admission.Resolve(absl::UnavailableError("journal full"));
  EXPECT_THAT(seen,
              ElementsAre("first UNAVAILABLE: journal full", "second UNAVAILABLE: journal full"));
}

TEST(AdmissionTest, OnlyTheFirstResolutionCounts) {
  Admission admission;
  std::vector<std::string> seen;
  admission.WhenResolved([&](absl::Status s) { seen.push_back(s.ToString()); });
  admission.Resolve(absl::OkStatus());
  admission.Resolve(absl::UnavailableError("too late"));
  admission.WhenResolved([&](absl::Status s) { seen.push_back(s.ToString()); });
  EXPECT_THAT(seen, ElementsAre("OK", "OK"));
}

TEST(AdmissionTest, AWaiterMayAskAgainFromItsCallback) {
  Admission admission;
  std::vector<std::string> seen;
  admission.WhenResolved([&](absl::Status s) {
    seen.push_back("outer " + s.ToString());
    admission.WhenResolved(
        [&](absl::Status inner) { seen.push_back("inner " + inner.ToString()); });
  });
  admission.Resolve(absl::OkStatus());
  EXPECT_THAT(seen, ElementsAre("outer OK", "inner OK"));
}

// Waiters racing the resolution are each told exactly once, none lost.
TEST(AdmissionTest, WaitersOnOtherThreadsAreEachToldOnce) {
  constexpr int kThreads = 4;
  constexpr int kWaitersPerThread = 500;
  Admission admission;
  std::atomic<int> told{0};
  std::atomic<int> not_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kWaitersPerThread; ++i) {
        admission.WhenResolved([&](absl::Status s) {
          ++told;
          if (!s.ok()) ++not_ok;
        });
      }
    });
  }
  admission.Resolve(absl::OkStatus());
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(told.load(), kThreads * kWaitersPerThread);
  EXPECT_EQ(not_ok.load(), 0);
}

}  // namespace
}  // namespace batchd::core
