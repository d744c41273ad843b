#include "core/graph/task_graph.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TaskSpec Task(std::string id, std::vector<std::string> dependencies = {}) {
  TaskSpec task;
  task.id = std::move(id);
  task.dependencies = std::move(dependencies);
  return task;
}

TaskGraph BuildOk(const std::vector<TaskSpec>& tasks) {
  absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return *TaskGraph::Build({});
  return *std::move(graph);
}

// Expects INVALID_ARGUMENT with `message` and exactly the violations `violations`.
void ExpectInvalid(const std::vector<TaskSpec>& tasks, const std::string& message,
                   const std::vector<FieldViolation>& violations) {
  const absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(graph.status().message(), message);
  EXPECT_EQ(FieldViolationsOf(graph.status()), violations);
}

// --- Validation ---

TEST(TaskGraphTest, EmptyTaskIdIsRejectedNamingTheIndex) {
  ExpectInvalid({Task("a"), Task("")}, "Task at index 1 has an empty id",
                {{"tasks[1].id", "Task at index 1 has an empty id"}});
}

TEST(TaskGraphTest, DuplicateTaskIdIsReportedAtTheLaterOccurrence) {
  ExpectInvalid({Task("a"), Task("b"), Task("a")}, "Duplicate task id 'a'",
                {{"tasks[2].id", "Duplicate task id 'a'"}});
}

TEST(TaskGraphTest, UnknownDependencyIsNotCalledACycle) {
  ExpectInvalid({Task("a"), Task("b", {"a", "ghost"})}, "Unknown dependency 'ghost' of task 'b'",
                {{"tasks[1].dependencies[1]", "Unknown dependency 'ghost' of task 'b'"}});
}

TEST(TaskGraphTest, EmptyDependencyNameIsUnknown) {
  ExpectInvalid({Task("a", {""})}, "Unknown dependency '' of task 'a'",
                {{"tasks[0].dependencies[0]", "Unknown dependency '' of task 'a'"}});
}

TEST(TaskGraphTest, SelfDependencyIsRejected) {
  ExpectInvalid({Task("b"), Task("a", {"b", "a"})}, "Task 'a' depends on itself",
                {{"tasks[1].dependencies[1]", "Task 'a' depends on itself"}});
}

TEST(TaskGraphTest, NanPriorityIsRejected) {
  std::vector<TaskSpec> tasks = {Task("x"), Task("a")};
  tasks[1].priority = std::numeric_limits<double>::quiet_NaN();
  ExpectInvalid(tasks, "Priority of task 'a' must be finite",
                {{"tasks[1].priority", "Priority of task 'a' must be finite"}});
}

TEST(TaskGraphTest, InfinitePriorityIsRejected) {
  std::vector<TaskSpec> tasks = {Task("a")};
  tasks[0].priority = -std::numeric_limits<double>::infinity();
  ExpectInvalid(tasks, "Priority of task 'a' must be finite",
                {{"tasks[0].priority", "Priority of task 'a' must be finite"}});
}

TEST(TaskGraphTest, ReportsEveryViolationAndCountsTheOthersInTheMessage) {
  std::vector<TaskSpec> tasks = {Task("a"), Task("a"), Task("", {"a"}), Task("c", {"c", "x"})};
  tasks[3].priority = std::numeric_limits<double>::infinity();
  ExpectInvalid(tasks, "Duplicate task id 'a' (and 4 more)",
                {
                    {"tasks[1].id", "Duplicate task id 'a'"},
                    {"tasks[2].id", "Task at index 2 has an empty id"},
                    {"tasks[3].priority", "Priority of task 'c' must be finite"},
                    {"tasks[3].dependencies[0]", "Task 'c' depends on itself"},
                    {"tasks[3].dependencies[1]", "Unknown dependency 'x' of task 'c'"},
                });
}

TEST(TaskGraphTest, ViolationListIsCappedAtOneHundred) {
  const std::vector<TaskSpec> tasks(300, Task("dup"));

  const absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);

  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  // 299 duplicates: the first hundred listed, the message counts all of them.
  EXPECT_EQ(graph.status().message(), "Duplicate task id 'dup' (and 298 more)");
  EXPECT_THAT(FieldViolationsOf(graph.status()), SizeIs(100));
  EXPECT_EQ(FieldViolationCountOf(graph.status()), 299u);
}

TEST(TaskGraphTest, ViolationsAreInTaskOrderNotGroupedByKind) {
  std::vector<TaskSpec> tasks = {Task("a", {"ghost"}), Task("a"), Task("b", {"b"}), Task("")};
  tasks[1].priority = std::numeric_limits<double>::quiet_NaN();
  ExpectInvalid(tasks, "Unknown dependency 'ghost' of task 'a' (and 4 more)",
                {
                    {"tasks[0].dependencies[0]", "Unknown dependency 'ghost' of task 'a'"},
                    {"tasks[1].id", "Duplicate task id 'a'"},
                    {"tasks[1].priority", "Priority of task 'a' must be finite"},
                    {"tasks[2].dependencies[0]", "Task 'b' depends on itself"},
                    {"tasks[3].id", "Task at index 3 has an empty id"},
                });
}

TEST(TaskGraphTest, CycleIsReportedBesideNonFinitePriorities) {
  std::vector<TaskSpec> tasks = {Task("a", {"b"}), Task("b", {"a"}), Task("c")};
  tasks[0].priority = std::numeric_limits<double>::infinity();
  tasks[2].priority = std::numeric_limits<double>::quiet_NaN();
  ExpectInvalid(tasks, "Priority of task 'a' must be finite (and 2 more)",
                {
                    {"tasks[0].priority", "Priority of task 'a' must be finite"},
                    {"tasks[1].dependencies[0]", "Circular dependency: a -> b -> a"},
                    {"tasks[2].priority", "Priority of task 'c' must be finite"},
                });
}

// Until every id is unique and every dependency names another task there are no edges to
// follow: a cycle is looked for only then.
TEST(TaskGraphTest, CycleIsNotReportedAlongsideOtherViolations) {
  ExpectInvalid({Task("a", {"b"}), Task("b", {"a", "ghost"})},
                "Unknown dependency 'ghost' of task 'b'",
                {{"tasks[1].dependencies[1]", "Unknown dependency 'ghost' of task 'b'"}});
}

TEST(TaskGraphTest, DuplicateDependencyEntriesCountOnce) {
  const TaskGraph graph = BuildOk({Task("a"), Task("b"), Task("c", {"b", "a", "b", "a"})});

  EXPECT_EQ(graph.DependencyCount(2), 2U);
  EXPECT_THAT(graph.Dependencies(2), ElementsAre(1, 0));
  EXPECT_THAT(graph.Dependents(0), ElementsAre(2));
  EXPECT_THAT(graph.Dependents(1), ElementsAre(2));
  EXPECT_EQ(graph.edge_count(), 2U);
}

// --- Cycles ---

TEST(TaskGraphTest, TwoCycleNamesBothTasks) {
  ExpectInvalid({Task("a", {"b"}), Task("b", {"a"})}, "Circular dependency: a -> b -> a",
                {{"tasks[1].dependencies[0]", "Circular dependency: a -> b -> a"}});
}

TEST(TaskGraphTest, ThreeCycleNamesOnlyItsTasksInExecutionOrder) {
  // x is a dependency of the cycle, y and z depend on it: none of them is part of it.
  const std::vector<TaskSpec> tasks = {
      Task("x"),              // 0
      Task("y", {"b"}),       // 1
      Task("b", {"x", "a"}),  // 2
      Task("c", {"b"}),       // 3
      Task("z", {"y", "c"}),  // 4
      Task("a", {"c"}),       // 5
  };
  ExpectInvalid(tasks, "Circular dependency: b -> c -> a -> b",
                {{"tasks[3].dependencies[0]", "Circular dependency: b -> c -> a -> b"}});
}

TEST(TaskGraphTest, CycleReachedThroughADependentStartsAtItsLowestIndexMember) {
  // "entry" (index 0) only waits on the cycle; the listing starts at c (index 1).
  const std::vector<TaskSpec> tasks = {
      Task("entry", {"d"}),
      Task("c", {"e"}),
      Task("d", {"c"}),
      Task("e", {"d"}),
  };
  ExpectInvalid(tasks, "Circular dependency: c -> d -> e -> c",
                {{"tasks[2].dependencies[0]", "Circular dependency: c -> d -> e -> c"}});
}

TEST(TaskGraphTest, CycleFieldNamesTheEntryListingTheFirstTask) {
  ExpectInvalid({Task("a", {"b"}), Task("b", {"a", "a"}), Task("q", {"b"})},
                "Circular dependency: a -> b -> a",
                {{"tasks[1].dependencies[0]", "Circular dependency: a -> b -> a"}});
  ExpectInvalid({Task("q"), Task("a", {"b"}), Task("b", {"q", "a"})},
                "Circular dependency: a -> b -> a",
                {{"tasks[2].dependencies[1]", "Circular dependency: a -> b -> a"}});
}

TEST(TaskGraphTest, LongCycleMessageIsAbbreviated) {
  constexpr int kTasks = 1000;
  std::vector<TaskSpec> tasks;
  tasks.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(Task("t" + std::to_string(i), {"t" + std::to_string((i + 1) % kTasks)}));
  }
  std::string expected = "Circular dependency: t0 -> ";
  for (int i = kTasks - 1; i > kTasks - 50; --i) expected += "t" + std::to_string(i) + " -> ";
  expected += "... (950 more) -> t0";

  ExpectInvalid(tasks, expected, {{"tasks[999].dependencies[0]", expected}});
}

// --- Structure ---

TEST(TaskGraphTest, EmptyBatchHasNoLayers) {
  const TaskGraph graph = BuildOk({});

  EXPECT_EQ(graph.size(), 0U);
  EXPECT_THAT(graph.Layers(), IsEmpty());
  EXPECT_THAT(graph.CriticalPath(), IsEmpty());
  EXPECT_THAT(graph.TopologicalOrder(), IsEmpty());
}

TEST(TaskGraphTest, DiamondHasThreeLayers) {
  const TaskGraph graph =
      BuildOk({Task("a"), Task("b", {"a"}), Task("c", {"a"}), Task("d", {"b", "c"})});

  EXPECT_EQ(graph.size(), 4U);
  EXPECT_EQ(graph.edge_count(), 4U);
  EXPECT_THAT(graph.Layers(), ElementsAre(ElementsAre(0), ElementsAre(1, 2), ElementsAre(3)));
  EXPECT_THAT(graph.TopologicalOrder(), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(graph.Dependencies(3), ElementsAre(1, 2));
  EXPECT_THAT(graph.Dependents(0), ElementsAre(1, 2));
  EXPECT_EQ(graph.LayerOf(3), 2U);
}

TEST(TaskGraphTest, LayerIsTheLongestDistanceAndKeepsInputOrder) {
  // d depends on a directly and through e, so it sits below e; f is a second root.
  const TaskGraph graph =
      BuildOk({Task("d", {"a", "e"}), Task("e", {"a"}), Task("f"), Task("a"), Task("g", {"f"})});

  EXPECT_THAT(graph.Layers(), ElementsAre(ElementsAre(2, 3), ElementsAre(1, 4), ElementsAre(0)));
  EXPECT_THAT(graph.TopologicalOrder(), ElementsAre(2, 3, 1, 4, 0));
  EXPECT_THAT(graph.Dependents(3), ElementsAre(0, 1));
}

TEST(TaskGraphTest, CriticalPathByCountPrefersTheEarliestLeaf) {
  // Chains a->b->d and a->c->e are equally long; d is the earlier leaf.
  const TaskGraph graph =
      BuildOk({Task("a"), Task("b", {"a"}), Task("c", {"a"}), Task("d", {"b"}), Task("e", {"c"})});

  EXPECT_THAT(graph.CriticalPath(), ElementsAre(0, 1, 3));
}

TEST(TaskGraphTest, CriticalPathByCountIsTheLongestChain) {
  const TaskGraph graph =
      BuildOk({Task("a"), Task("b"), Task("c", {"a"}), Task("d", {"b", "c"}), Task("e", {"b"})});

  EXPECT_THAT(graph.CriticalPath(), ElementsAre(0, 2, 3));
}

TEST(TaskGraphTest, CriticalPathByWeightFollowsTheHeaviestChain) {
  // Diamond: a->b->d weighs 1+5+1, a->c->d weighs 1+2+1.
  const TaskGraph graph =
      BuildOk({Task("a"), Task("b", {"a"}), Task("c", {"a"}), Task("d", {"b", "c"})});

  EXPECT_THAT(graph.CriticalPath({1, 5, 2, 1}), ElementsAre(0, 1, 3));
  EXPECT_THAT(graph.CriticalPath({1, 2, 5, 1}), ElementsAre(0, 2, 3));
}

TEST(TaskGraphTest, CriticalPathByWeightCanBeShorterThanTheLongestChain) {
  // a->b->c weighs 3; the lone task d weighs 10.
  const TaskGraph graph = BuildOk({Task("a"), Task("b", {"a"}), Task("c", {"b"}), Task("d")});

  EXPECT_THAT(graph.CriticalPath(), ElementsAre(0, 1, 2));
  EXPECT_THAT(graph.CriticalPath({1, 1, 1, 10}), ElementsAre(3));
}

// --- Scale: iterative, no recursion depth limits ---

TEST(TaskGraphTest, MillionTaskChainBuilds) {
  constexpr uint32_t kTasks = 1000000;
  std::vector<TaskSpec> tasks(kTasks);
  for (uint32_t i = 0; i < kTasks; ++i) {
    tasks[i].id = "t" + std::to_string(i);
    if (i > 0) tasks[i].dependencies.push_back(tasks[i - 1].id);
  }

  const TaskGraph graph = BuildOk(tasks);

  EXPECT_EQ(graph.size(), kTasks);
  EXPECT_EQ(graph.edge_count(), kTasks - 1);
  EXPECT_EQ(graph.Layers().size(), kTasks);
  EXPECT_EQ(graph.LayerOf(kTasks - 1), kTasks - 1);
  EXPECT_EQ(graph.CriticalPath().size(), kTasks);
}

TEST(TaskGraphTest, MillionTaskChainListedBackwardsBuilds) {
  constexpr uint32_t kTasks = 1000000;
  std::vector<TaskSpec> tasks(kTasks);
  for (uint32_t i = 0; i < kTasks; ++i) tasks[i].id = "t" + std::to_string(i);
  for (uint32_t i = 0; i + 1 < kTasks; ++i) tasks[i].dependencies.push_back(tasks[i + 1].id);

  const TaskGraph graph = BuildOk(tasks);

  EXPECT_EQ(graph.Layers().size(), kTasks);
  EXPECT_EQ(graph.LayerOf(0), kTasks - 1);
  EXPECT_EQ(graph.TopologicalOrder().front(), kTasks - 1);
}

TEST(TaskGraphTest, MillionTaskCycleIsReportedWithoutRecursion) {
  constexpr uint32_t kTasks = 1000000;
  std::vector<TaskSpec> tasks(kTasks);
  for (uint32_t i = 0; i < kTasks; ++i) tasks[i].id = "t" + std::to_string(i);
  for (uint32_t i = 0; i < kTasks; ++i) {
    tasks[i].dependencies.push_back(tasks[(i + kTasks - 1) % kTasks].id);
  }

  const absl::StatusOr<TaskGraph> graph = TaskGraph::Build(tasks);

  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(graph.status().message()),
              ::testing::StartsWith("Circular dependency: t0 -> t1 -> t2 -> "));
  EXPECT_THAT(std::string(graph.status().message()),
              ::testing::EndsWith(" -> t49 -> ... (999950 more) -> t0"));
}

TEST(TaskGraphTest, HundredThousandWideFanInBuilds) {
  constexpr uint32_t kRoots = 100000;
  std::vector<TaskSpec> tasks(kRoots + 1);
  tasks[kRoots].id = "sink";
  for (uint32_t i = 0; i < kRoots; ++i) {
    tasks[i].id = "r" + std::to_string(i);
    tasks[kRoots].dependencies.push_back(tasks[i].id);
  }

  const TaskGraph graph = BuildOk(tasks);

  const std::vector<std::vector<uint32_t>> layers = graph.Layers();
  ASSERT_EQ(layers.size(), 2U);
  EXPECT_EQ(layers[0].size(), kRoots);
  EXPECT_THAT(layers[1], ElementsAre(kRoots));
  EXPECT_EQ(graph.DependencyCount(kRoots), kRoots);
  EXPECT_EQ(graph.CriticalPath(), (std::vector<uint32_t>{0, kRoots}));
}

}  // namespace
}  // namespace batchd::core
