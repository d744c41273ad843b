// Batch::Validate: one pass over a spec reports every violation it can, in input order.
#include "core/scheduling/batch.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

constexpr char kKnown[] = "echo, sleep";

TaskSpec Task(std::string id, std::string executor = "echo",
              std::vector<std::string> dependencies = {}) {
  TaskSpec task;
  task.id = std::move(id);
  task.executor = std::move(executor);
  task.dependencies = std::move(dependencies);
  return task;
}

absl::Status Validate(const BatchSpec& spec) {
  return Batch::Validate(
             spec, [](const std::string& name) { return name == "echo" || name == "sleep"; },
             [] {
               return std::vector<std::string>{"echo", "sleep"};
             })
      .status();
}

std::string UnknownExecutor(const std::string& executor, const std::string& task) {
  return absl::StrCat("Unknown executor '", executor, "' of task '", task, "' (known: ", kKnown,
                      ")");
}

TEST(BatchValidateTest, ValidSpecGivesItsGraph) {
  BatchSpec spec;
  spec.tasks = {Task("a"), Task("b", "sleep", {"a"})};
  absl::StatusOr<TaskGraph> graph = Batch::Validate(
      spec, [](const std::string&) { return true; }, [] { return std::vector<std::string>{}; });
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ(graph->size(), 2u);
}

TEST(BatchValidateTest, MaxConcurrentZeroDoesNotHideTaskViolations) {
  BatchSpec spec;
  spec.tasks = {Task("a", "nope"), Task("", "echo", {"a"})};
  spec.options.max_concurrent = 0;

  const absl::Status status = Validate(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), UnknownExecutor("nope", "a") + " (and 2 more)");
  EXPECT_THAT(FieldViolationsOf(status),
              ElementsAre(FieldViolation{"tasks[0].executor", UnknownExecutor("nope", "a")},
                          FieldViolation{"tasks[1].id", "Task at index 1 has an empty id"},
                          FieldViolation{"options.max_concurrent",
                                         "max_concurrent must be greater than 0"}));
}

TEST(BatchValidateTest, EmptyIdUnknownExecutorDuplicateIdAndUnknownDependencyAllReported) {
  BatchSpec spec;
  spec.tasks = {Task(""), Task("b", "ghost.exec"), Task("b"), Task("c", "echo", {"missing"})};

  const absl::Status status = Validate(spec);
  EXPECT_EQ(status.message(), "Task at index 0 has an empty id (and 3 more)");
  EXPECT_THAT(FieldViolationsOf(status),
              ElementsAre(FieldViolation{"tasks[0].id", "Task at index 0 has an empty id"},
                          FieldViolation{"tasks[1].executor", UnknownExecutor("ghost.exec", "b")},
                          FieldViolation{"tasks[2].id", "Duplicate task id 'b'"},
                          FieldViolation{"tasks[3].dependencies[0]",
                                         "Unknown dependency 'missing' of task 'c'"}));
}

TEST(BatchValidateTest, EachTasksFieldsInFieldOrderThenTheOptions) {
  BatchSpec spec;
  spec.tasks = {Task("a", "nope", {"ghost"})};
  spec.tasks[0].priority = std::numeric_limits<double>::quiet_NaN();
  spec.tasks[0].retry_policy.emplace();
  spec.tasks[0].retry_policy->multiplier = -1;
  spec.options.timeout_ms = 0;
  spec.options.retry_policy.multiplier = std::numeric_limits<double>::infinity();

  const absl::Status status = Validate(spec);
  EXPECT_THAT(
      FieldViolationsOf(status),
      ElementsAre(
          FieldViolation{"tasks[0].executor", UnknownExecutor("nope", "a")},
          FieldViolation{"tasks[0].priority", "Priority of task 'a' must be finite"},
          FieldViolation{"tasks[0].dependencies[0]", "Unknown dependency 'ghost' of task 'a'"},
          FieldViolation{"tasks[0].retry_policy.multiplier",
                         "Retry multiplier must be a finite number >= 0"},
          FieldViolation{"options.timeout_ms", "timeout_ms must be greater than 0"},
          FieldViolation{"options.retry_policy.multiplier",
                         "Retry multiplier must be a finite number >= 0"}));
}

TEST(BatchValidateTest, CycleIsReportedWithUnknownExecutorsOnceTheGraphIsSound) {
  BatchSpec spec;
  spec.tasks = {Task("a", "echo", {"b"}), Task("b", "nope", {"a"})};
  spec.options.max_concurrent = 0;

  const absl::Status status = Validate(spec);
  EXPECT_THAT(
      FieldViolationsOf(status),
      ElementsAre(
          FieldViolation{"tasks[1].executor", UnknownExecutor("nope", "b")},
          FieldViolation{"tasks[1].dependencies[0]", "Circular dependency: a -> b -> a"},
          FieldViolation{"options.max_concurrent", "max_concurrent must be greater than 0"}));
}

TEST(BatchValidateTest, MoreViolationsThanTheCapListTheFirstHundredAndCountAll) {
  BatchSpec spec;
  for (int i = 0; i < 150; ++i) spec.tasks.push_back(Task(absl::StrCat("t", i), "nope"));
  spec.options.max_concurrent = 0;

  const absl::Status status = Validate(spec);
  EXPECT_EQ(status.message(), UnknownExecutor("nope", "t0") + " (and 150 more)");
  const std::vector<FieldViolation> listed = FieldViolationsOf(status);
  ASSERT_THAT(listed, SizeIs(kMaxFieldViolations));
  for (size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(listed[i].field, absl::StrCat("tasks[", i, "].executor"));
  }
  EXPECT_EQ(FieldViolationCountOf(status), 151u);
}

TEST(BatchValidateTest, EachExecutorNameIsLookedUpOnce) {
  BatchSpec spec;
  for (int i = 0; i < 10; ++i) spec.tasks.push_back(Task(absl::StrCat("t", i), i % 2 ? "a" : "b"));
  int lookups = 0;
  const absl::StatusOr<TaskGraph> graph = Batch::Validate(
      spec,
      [&](const std::string&) {
        ++lookups;
        return true;
      },
      [] { return std::vector<std::string>{}; });
  EXPECT_TRUE(graph.ok());
  EXPECT_EQ(lookups, 2);
}

}  // namespace
}  // namespace batchd::core
