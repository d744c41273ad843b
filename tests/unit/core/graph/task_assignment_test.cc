#include "core/graph/task_assignment.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Assignment = std::vector<std::vector<uint32_t>>;

std::vector<TaskSpec> TasksWithPriorities(const std::vector<double>& priorities) {
  std::vector<TaskSpec> tasks(priorities.size());
  for (size_t i = 0; i < priorities.size(); ++i) {
    tasks[i].id = "t" + std::to_string(i);
    tasks[i].priority = priorities[i];
  }
  return tasks;
}

std::vector<TaskSpec> Tasks(size_t count) {
  return TasksWithPriorities(std::vector<double>(count, 0.0));
}

Assignment Assign(const std::vector<TaskSpec>& tasks, uint32_t workers, LoadBalancerKind strategy,
                  uint64_t seed = 0) {
  absl::StatusOr<Assignment> assignment = AssignTasks(tasks, workers, strategy, seed);
  EXPECT_TRUE(assignment.ok()) << assignment.status();
  return assignment.ok() ? *assignment : Assignment{};
}

TEST(AssignTasksTest, ZeroWorkersIsInvalidArgument) {
  const absl::StatusOr<Assignment> assignment =
      AssignTasks(Tasks(3), 0, LoadBalancerKind::kRoundRobin, 0);

  EXPECT_EQ(assignment.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(assignment.status().message(), "Number of workers must be greater than 0");
  EXPECT_THAT(FieldViolationsOf(assignment.status()),
              ElementsAre(FieldViolation{"workers", "Number of workers must be greater than 0"}));
}

TEST(AssignTasksTest, TooManyWorkersIsInvalidArgumentNamingTheLimit) {
  const absl::StatusOr<Assignment> assignment =
      AssignTasks(Tasks(3), 100001, LoadBalancerKind::kRoundRobin, 0);

  EXPECT_EQ(assignment.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(assignment.status().message(), "Number of workers must be at most 100000");
  EXPECT_THAT(FieldViolationsOf(assignment.status()),
              ElementsAre(FieldViolation{"workers", "Number of workers must be at most 100000"}));
}

TEST(AssignTasksTest, MaximumWorkersIsAccepted) {
  const Assignment assignment = Assign(Tasks(2), 100000, LoadBalancerKind::kRoundRobin);

  ASSERT_EQ(assignment.size(), 100000U);
  EXPECT_THAT(assignment[0], ElementsAre(0));
  EXPECT_THAT(assignment[1], ElementsAre(1));
  EXPECT_THAT(assignment[2], IsEmpty());
}

TEST(AssignTasksTest, NoTasksGivesOneEmptyListPerWorker) {
  for (LoadBalancerKind strategy : {LoadBalancerKind::kRoundRobin, LoadBalancerKind::kLeastLoaded,
                                    LoadBalancerKind::kWeighted, LoadBalancerKind::kRandom}) {
    EXPECT_THAT(Assign({}, 3, strategy), ElementsAre(IsEmpty(), IsEmpty(), IsEmpty()));
  }
}

TEST(AssignTasksTest, RoundRobinDealsTasksInInputOrder) {
  EXPECT_THAT(Assign(Tasks(4), 2, LoadBalancerKind::kRoundRobin),
              ElementsAre(ElementsAre(0, 2), ElementsAre(1, 3)));
  EXPECT_THAT(Assign(Tasks(5), 3, LoadBalancerKind::kRoundRobin),
              ElementsAre(ElementsAre(0, 3), ElementsAre(1, 4), ElementsAre(2)));
}

TEST(AssignTasksTest, RoundRobinIgnoresPriorities) {
  EXPECT_THAT(Assign(TasksWithPriorities({1, 9, 5}), 2, LoadBalancerKind::kRoundRobin),
              ElementsAre(ElementsAre(0, 2), ElementsAre(1)));
}

TEST(AssignTasksTest, LeastLoadedTakesHighestPriorityFirstAndSpreadsEvenly) {
  // Priority order: 1 (9), 3 (7), 0 (5), 4 (5, after 0: stable), 2 (1).
  EXPECT_THAT(Assign(TasksWithPriorities({5, 9, 1, 7, 5}), 2, LoadBalancerKind::kLeastLoaded),
              ElementsAre(ElementsAre(1, 0, 2), ElementsAre(3, 4)));
}

TEST(AssignTasksTest, LeastLoadedKeepsInputOrderForEqualPriorities) {
  EXPECT_THAT(Assign(Tasks(5), 3, LoadBalancerKind::kLeastLoaded),
              ElementsAre(ElementsAre(0, 3), ElementsAre(1, 4), ElementsAre(2)));
}

TEST(AssignTasksTest, LeastLoadedSortsNanPriorityLast) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(Assign(TasksWithPriorities({nan, 1, 2}), 3, LoadBalancerKind::kLeastLoaded),
              ElementsAre(ElementsAre(2), ElementsAre(1), ElementsAre(0)));
}

TEST(AssignTasksTest, WeightedPutsHeaviestFirstOnTheLightestWorker) {
  // Weights 8, 7, 6, 5, 4 over 2 workers: 8->w0, 7->w1, 6->w1 (7<8), 5->w0 (8<13), 4->w0 (13=13,
  // lowest index).
  EXPECT_THAT(Assign(TasksWithPriorities({5, 8, 4, 7, 6}), 2, LoadBalancerKind::kWeighted),
              ElementsAre(ElementsAre(1, 0, 2), ElementsAre(3, 4)));
}

TEST(AssignTasksTest, WeightedBreaksLoadTiesByLowestWorkerIndex) {
  EXPECT_THAT(Assign(TasksWithPriorities({2, 2, 2, 2}), 3, LoadBalancerKind::kWeighted),
              ElementsAre(ElementsAre(0, 3), ElementsAre(1), ElementsAre(2)));
}

TEST(AssignTasksTest, WeightedCountsZeroNegativeAndNanPrioritiesAsOne) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Weights 3, 1, 1, 1, 0.5: 0->w0 (3); 1, 2, 3->w1 (1, 2, 3); 4->w0 (3=3, lowest index).
  EXPECT_THAT(Assign(TasksWithPriorities({3, 0, -5, nan, 0.5}), 2, LoadBalancerKind::kWeighted),
              ElementsAre(ElementsAre(0, 4), ElementsAre(1, 2, 3)));
}

TEST(AssignTasksTest, WeightedAddsOneForANanPriorityToTheWorkerLoad) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Weights 1, 2, 1, 1: 1->w0 (2); 0->w1 (1); 2->w1 (2); 3->w0 (2=2, lowest index). Were NaN
  // to weigh 0, task 3 would go to w1.
  EXPECT_THAT(Assign(TasksWithPriorities({nan, 2, 0, -5}), 2, LoadBalancerKind::kWeighted),
              ElementsAre(ElementsAre(1, 3), ElementsAre(0, 2)));
}

TEST(AssignTasksTest, RandomIsReproducibleFromTheSeed) {
  const std::vector<TaskSpec> tasks = Tasks(200);

  const Assignment first = Assign(tasks, 7, LoadBalancerKind::kRandom, 42);
  const Assignment again = Assign(tasks, 7, LoadBalancerKind::kRandom, 42);
  const Assignment other = Assign(tasks, 7, LoadBalancerKind::kRandom, 43);

  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
}

TEST(AssignTasksTest, RandomAssignsEveryTaskOnceInIndexOrder) {
  const Assignment assignment = Assign(Tasks(100), 4, LoadBalancerKind::kRandom, 7);

  std::vector<int> seen(100, 0);
  for (const std::vector<uint32_t>& worker : assignment) {
    EXPECT_TRUE(std::is_sorted(worker.begin(), worker.end()));
    for (uint32_t task : worker) ++seen[task];
  }
  EXPECT_EQ(seen, std::vector<int>(100, 1));
}

TEST(AssignTasksTest, RandomIsRoughlyUniform) {
  constexpr int kTasks = 100000;
  constexpr int kWorkers = 10;
  const Assignment assignment = Assign(Tasks(kTasks), kWorkers, LoadBalancerKind::kRandom, 12345);

  // Chi-squared with 9 degrees of freedom: P(X > 27.88) = 0.001, and the seed is fixed.
  const double expected = static_cast<double>(kTasks) / kWorkers;
  double chi_squared = 0.0;
  for (const std::vector<uint32_t>& worker : assignment) {
    const double diff = static_cast<double>(worker.size()) - expected;
    chi_squared += diff * diff / expected;
  }
  EXPECT_LT(chi_squared, 27.88);
}

}  // namespace
}  // namespace batchd::core
