#include "core/field_violation.h"

#include <vector>

#include "absl/status/status.h"
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

TEST(FieldViolationTest, StatusWithoutPayloadHasNoViolations) {
  EXPECT_THAT(FieldViolationsOf(absl::OkStatus()), IsEmpty());
  EXPECT_THAT(FieldViolationsOf(absl::InvalidArgumentError("Bad request")), IsEmpty());
}

}  // namespace
}  // namespace batchd::core
