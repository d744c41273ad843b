#include "server/observability/malloc_trimmer.h"

#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/flag_test.h"

// Stand-ins for tcmalloc's C entry points, which MallocTrimmer finds with dlsym(RTLD_DEFAULT):
// this executable exports them (ENABLE_EXPORTS), so the test sees every call the trimmer makes
// as it would in a daemon linked with tcmalloc.
namespace {

absl::Mutex calls_mu;
int release_calls ABSL_GUARDED_BY(calls_mu) = 0;
std::string set_property_name ABSL_GUARDED_BY(calls_mu);
size_t set_property_value ABSL_GUARDED_BY(calls_mu) = 0;
int set_property_calls ABSL_GUARDED_BY(calls_mu) = 0;

}  // namespace

extern "C" void MallocExtension_ReleaseFreeMemory() {
  absl::MutexLock lock(&calls_mu);
  ++release_calls;
}

extern "C" int MallocExtension_SetNumericProperty(const char* name, size_t value) {
  absl::MutexLock lock(&calls_mu);
  ++set_property_calls;
  set_property_name = name;
  set_property_value = value;
  return 1;
}

namespace batchd::server {
namespace {

// Generous: the trimming thread may be starved for a long time on a loaded machine.
constexpr absl::Duration kPatience = absl::Seconds(60);

class MallocTrimmerTest : public batchd::testing::FlagTest {
 protected:
  void SetUp() override {
    absl::MutexLock lock(&calls_mu);
    release_calls = 0;
    set_property_calls = 0;
    set_property_name.clear();
    set_property_value = 0;
  }

  static int ReleaseCalls() {
    absl::MutexLock lock(&calls_mu);
    return release_calls;
  }

  // False when fewer than `n` releases happened within kPatience.
  static bool WaitForReleases(int n) {
    absl::MutexLock lock(&calls_mu);
    const auto enough = [n]()
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu) { return release_calls >= n; };
    return calls_mu.AwaitWithTimeout(absl::Condition(&enough), kPatience);
  }
};

TEST_F(MallocTrimmerTest, IntervalDefaultsToTenSeconds) {
  absl::StatusOr<absl::Duration> interval = MallocTrimIntervalFromFlags();
  ASSERT_TRUE(interval.ok()) << interval.status();
  EXPECT_EQ(*interval, absl::Seconds(10));
}

TEST_F(MallocTrimmerTest, IntervalIsReadFromTheFlag) {
  Set("malloc_trim_interval", "250ms");
  EXPECT_EQ(MallocTrimIntervalFromFlags().value(), absl::Milliseconds(250));
  Set("malloc_trim_interval", "0");
  EXPECT_EQ(MallocTrimIntervalFromFlags().value(), absl::ZeroDuration());
}

TEST_F(MallocTrimmerTest, NegativeIntervalIsInvalid) {
  Set("malloc_trim_interval", "-1s");
  absl::StatusOr<absl::Duration> interval = MallocTrimIntervalFromFlags();
  EXPECT_EQ(interval.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(interval.status().message(),
            "invalid --malloc-trim-interval -1s: must be a finite, non-negative duration");
}

TEST_F(MallocTrimmerTest, InfiniteIntervalIsInvalid) {
  Set("malloc_trim_interval", "inf");
  absl::StatusOr<absl::Duration> interval = MallocTrimIntervalFromFlags();
  EXPECT_EQ(interval.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(interval.status().message(),
            "invalid --malloc-trim-interval inf: must be a finite, non-negative duration");
}

TEST_F(MallocTrimmerTest, ZeroIntervalNeitherTrimsNorTouchesTcmalloc) {
  { MallocTrimmer trimmer(absl::ZeroDuration()); }
  absl::MutexLock lock(&calls_mu);
  EXPECT_EQ(release_calls, 0);
  EXPECT_EQ(set_property_calls, 0);
}

TEST_F(MallocTrimmerTest, BoundsTcmallocThreadCachesToFourMebibytes) {
  MallocTrimmer trimmer(absl::Hours(1));
  absl::MutexLock lock(&calls_mu);
  EXPECT_EQ(set_property_calls, 1);
  EXPECT_EQ(set_property_name, "tcmalloc.max_total_thread_cache_bytes");
  EXPECT_EQ(set_property_value, size_t{4} << 20);
}

TEST_F(MallocTrimmerTest, ReleasesTcmallocMemoryEveryInterval) {
  MallocTrimmer trimmer(absl::Milliseconds(1));
  EXPECT_TRUE(WaitForReleases(3)) << "releases: " << ReleaseCalls();
}

TEST_F(MallocTrimmerTest, NothingIsReleasedBeforeTheFirstInterval) {
  MallocTrimmer trimmer(absl::Hours(1));
  EXPECT_EQ(ReleaseCalls(), 0);
}

// An hour-long wait is cut short by the destructor (a hang here is caught by ctest's timeout).
TEST_F(MallocTrimmerTest, DestructionCutsTheWaitShort) {
  const absl::Time start = absl::Now();
  { MallocTrimmer trimmer(absl::Hours(1)); }
  EXPECT_LT(absl::Now() - start, kPatience);
  EXPECT_EQ(ReleaseCalls(), 0);
}

}  // namespace
}  // namespace batchd::server
