#include "core/model/field_violation.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(FieldViolationTest, InvalidFieldCarriesOneViolation) {
  const absl::Status status = InvalidField("tasks[0].id", "Task at index 0 has an empty id");

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Task at index 0 has an empty id");
  EXPECT_THAT(FieldViolationsOf(status),
              ElementsAre(FieldViolation{"tasks[0].id", "Task at index 0 has an empty id"}));
}

TEST(FieldViolationTest, RoundTripsEveryViolationInOrder) {
  const std::vector<FieldViolation> violations = {
      {"tasks[1].id", "Duplicate task id 'a'"},
      {"tasks[2].dependencies[0]", "Unknown dependency 'ghost' of task 'c'"},
      {"workers", "Number of workers must be greater than 0"},
  };

  const absl::Status status = InvalidArgumentWithViolations(violations);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(status), violations);
}

TEST(FieldViolationTest, MessageIsFirstDescriptionWithCountOfOthers) {
  const absl::Status status = InvalidArgumentWithViolations({
      {"tasks[1].id", "Duplicate task id 'a'"},
      {"tasks[2].id", "Duplicate task id 'b'"},
      {"tasks[3].id", "Duplicate task id 'c'"},
  });

  EXPECT_EQ(status.message(), "Duplicate task id 'a' (and 2 more)");
}

TEST(FieldViolationTest, SeparatorCharactersInTextDoNotSplitViolations) {
  const absl::Status status = InvalidArgumentWithViolations({
      {"tasks[0].id", "Duplicate task id 'a\x1f\x1e'"},
      {"tasks[1].id", "Duplicate task id 'b'"},
  });

  EXPECT_THAT(FieldViolationsOf(status),
              ElementsAre(FieldViolation{"tasks[0].id", "Duplicate task id 'a  '"},
                          FieldViolation{"tasks[1].id", "Duplicate task id 'b'"}));
}

// --- Input order ---

TEST(FieldPathBeforeTest, TasksComeBeforeOptionsAndOptionsBeforeLabels) {
  EXPECT_TRUE(FieldPathBefore("tasks[99].retry_policy.jitter", "options.max_concurrent"));
  EXPECT_TRUE(FieldPathBefore("options.on_dependency_failure", "labels"));
  EXPECT_TRUE(FieldPathBefore("tasks", "tasks[0].id"));
  EXPECT_FALSE(FieldPathBefore("options.max_concurrent", "tasks[0].id"));
}

TEST(FieldPathBeforeTest, TasksByIndexNumericallyThenFieldsByNumber) {
  EXPECT_TRUE(FieldPathBefore("tasks[2].retry_policy", "tasks[10].id"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].id", "tasks[3].executor"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].executor", "tasks[3].input"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].priority", "tasks[3].dependencies[0]"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].dependencies[9]", "tasks[3].dependencies[10]"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].dependencies[10]", "tasks[3].retry_policy.kind"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].retry_policy.kind", "tasks[3].retry_policy.multiplier"));
  EXPECT_TRUE(FieldPathBefore("tasks[3].retry_policy.multiplier", "tasks[3].retry_policy.jitter"));
  EXPECT_FALSE(FieldPathBefore("tasks[3].executor", "tasks[3].executor"));
}

TEST(FieldPathBeforeTest, OptionsByFieldNumber) {
  EXPECT_TRUE(FieldPathBefore("options.max_concurrent", "options.timeout_ms"));
  EXPECT_TRUE(FieldPathBefore("options.timeout_ms", "options.retry_policy.multiplier"));
  EXPECT_TRUE(FieldPathBefore("options.retry_policy.jitter", "options.aggregation"));
  EXPECT_TRUE(FieldPathBefore("options.aggregation", "options.load_balancer"));
  EXPECT_TRUE(FieldPathBefore("options.load_balancer", "options.on_dependency_failure"));
}

TEST(FieldPathBeforeTest, LabelsByKeyWhateverTheKeyHolds) {
  EXPECT_TRUE(FieldPathBefore("labels", "labels[a]"));
  EXPECT_TRUE(FieldPathBefore("labels[a.b]c]", "labels[b]"));
  EXPECT_FALSE(FieldPathBefore("labels[b]", "labels[a.b]c]"));
}

// --- FieldViolations ---

TEST(FieldViolationsTest, ListsTheFirstHundredAndCountsEveryOne) {
  FieldViolations violations;
  for (int i = 0; i < 250; ++i) {
    violations.Add(absl::StrCat("tasks[", i, "].id"), absl::StrCat("Duplicate task id 't", i, "'"));
  }
  int built = 0;
  violations.Add([&] {
    ++built;
    return FieldViolation{"tasks[250].id", "never listed"};
  });

  EXPECT_EQ(built, 0);  // past the cap nothing is formatted
  EXPECT_EQ(violations.total(), 251u);
  const absl::Status status = std::move(violations).ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Duplicate task id 't0' (and 250 more)");
  const std::vector<FieldViolation> listed = FieldViolationsOf(status);
  ASSERT_EQ(listed.size(), kMaxFieldViolations);
  EXPECT_EQ(listed.back(), (FieldViolation{"tasks[99].id", "Duplicate task id 't99'"}));
  EXPECT_EQ(FieldViolationCountOf(status), 251u);
}

TEST(FieldViolationsTest, MergeKeepsInputOrderAndTheCount) {
  FieldViolations graph;
  graph.Add("tasks[0].id", "Task at index 0 has an empty id");
  graph.Add("tasks[2].dependencies[0]", "Unknown dependency 'x' of task 'c'");
  FieldViolations options;
  options.Add("options.max_concurrent", "max_concurrent must be greater than 0");
  FieldViolations executors;
  executors.Add("tasks[1].executor", "Unknown executor 'nope' of task 'b' (known: echo)");
  executors.Add("tasks[2].executor", "Unknown executor 'nope' of task 'c' (known: echo)");

  FieldViolations all;
  all.Merge(std::move(options));
  all.Merge(std::move(graph));
  all.Merge(std::move(executors).ToStatus());  // through a status, as across layers

  EXPECT_EQ(all.total(), 5u);
  EXPECT_THAT(
      all.listed(),
      ElementsAre(
          FieldViolation{"tasks[0].id", "Task at index 0 has an empty id"},
          FieldViolation{"tasks[1].executor", "Unknown executor 'nope' of task 'b' (known: echo)"},
          FieldViolation{"tasks[2].executor", "Unknown executor 'nope' of task 'c' (known: echo)"},
          FieldViolation{"tasks[2].dependencies[0]", "Unknown dependency 'x' of task 'c'"},
          FieldViolation{"options.max_concurrent", "max_concurrent must be greater than 0"}));
  EXPECT_EQ(std::move(all).ToStatus().message(), "Task at index 0 has an empty id (and 4 more)");
}

TEST(FieldViolationsTest, MergedListsAreCutToTheFirstHundredInOrder) {
  FieldViolations late;
  FieldViolations early;
  for (int i = 0; i < 100; ++i) {
    late.Add(absl::StrCat("tasks[", 100 + i, "].id"), "late");
    early.Add(absl::StrCat("tasks[", i, "].executor"), "early");
  }
  late.Merge(FieldViolations::Of(std::move(early).ToStatus()));

  EXPECT_EQ(late.total(), 200u);
  ASSERT_EQ(late.listed().size(), kMaxFieldViolations);
  EXPECT_EQ(late.listed().front().field, "tasks[0].executor");
  EXPECT_EQ(late.listed().back().field, "tasks[99].executor");
}

TEST(FieldViolationsTest, EmptyIsOk) {
  FieldViolations none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(std::move(none).ToStatus().ok());
  EXPECT_EQ(FieldViolationCountOf(absl::OkStatus()), 0u);
}

TEST(FieldViolationTest, StatusWithoutPayloadHasNoViolations) {
  EXPECT_THAT(FieldViolationsOf(absl::OkStatus()), IsEmpty());
  EXPECT_THAT(FieldViolationsOf(absl::InvalidArgumentError("Bad request")), IsEmpty());
}

}  // namespace
}  // namespace batchd::core
