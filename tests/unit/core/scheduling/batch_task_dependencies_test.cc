// BatchTaskDependencies: a task's dependencies in the order first listed, and the outputs of
// those that succeeded (results recorded through ReplayJournal, as a restart records them).
#include "core/scheduling/batch_task_dependencies.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/scheduling/batch_replay.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using testing::ManualTask;

class BatchTaskDependenciesTest : public ::testing::Test {
 protected:
  JournalEvent Result(uint32_t task, TaskState state, int output) {
    JournalEvent e;
    e.kind = JournalEventKind::kResult;
    e.task = task;
    e.state = state;
    e.output = output;
    e.error = state == TaskState::kSucceeded ? "" : "boom";
    e.started_at = clock_.WallNow();
    e.at = clock_.WallNow();
    return e;
  }

  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
};

TEST_F(BatchTaskDependenciesTest, ATaskWithoutDependenciesHasNone) {
  auto batch = batches_.Make(1, {ManualTask("a")});
  const BatchTaskDependencies dependencies(*batch, 0);
  EXPECT_EQ(dependencies.size(), 0u);
}

TEST_F(BatchTaskDependenciesTest, ListsTheDependenciesInTheOrderWritten) {
  auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b"), ManualTask("c", {"b", "a"})});
  const BatchTaskDependencies dependencies(*batch, 2);
  ASSERT_EQ(dependencies.size(), 2u);
  EXPECT_EQ(dependencies.id(0), "b");
  EXPECT_EQ(dependencies.id(1), "a");
}

TEST_F(BatchTaskDependenciesTest, NoOutputBeforeADependencyHasItsResult) {
  auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b", {"a"})});
  const BatchTaskDependencies dependencies(*batch, 1);
  ASSERT_EQ(dependencies.size(), 1u);
  EXPECT_EQ(dependencies.output(0), nullptr);
}

TEST_F(BatchTaskDependenciesTest, OnlyDependenciesThatSucceededHaveAnOutput) {
  auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b"), ManualTask("c", {"a", "b"})});
  std::vector<JournalEvent> events;
  events.push_back(Result(0, TaskState::kSucceeded, 7));
  events.push_back(Result(1, TaskState::kFailed, 8));
  ReplayJournal(*batch, std::move(events), clock_);
  const BatchTaskDependencies dependencies(*batch, 2);
  ASSERT_EQ(dependencies.size(), 2u);
  ASSERT_NE(dependencies.output(0), nullptr);
  EXPECT_EQ(*dependencies.output(0), 7);
  EXPECT_EQ(dependencies.output(1), nullptr);
}

// A view, not a copy: a result recorded after the view was made is seen through it.
TEST_F(BatchTaskDependenciesTest, SeesResultsRecordedAfterItWasMade) {
  auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b", {"a"})});
  const BatchTaskDependencies dependencies(*batch, 1);
  std::vector<JournalEvent> events;
  events.push_back(Result(0, TaskState::kSucceeded, 3));
  ReplayJournal(*batch, std::move(events), clock_);
  ASSERT_NE(dependencies.output(0), nullptr);
  EXPECT_EQ(*dependencies.output(0), 3);
}

}  // namespace
}  // namespace batchd::core
