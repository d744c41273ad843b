#include "core/base/status_macros.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

absl::Status Fail(absl::string_view message) { return absl::FailedPreconditionError(message); }

absl::StatusOr<int> Number(bool ok, int value) {
  if (ok) return value;
  return absl::InvalidArgumentError("no number");
}

absl::Status ReturnIfErrorOn(absl::Status status, bool* reached_end) {
  RETURN_IF_ERROR(std::move(status));
  *reached_end = true;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorPassesOkThrough) {
  bool reached_end = false;

  EXPECT_EQ(ReturnIfErrorOn(absl::OkStatus(), &reached_end), absl::OkStatus());
  EXPECT_TRUE(reached_end);
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheSameCodeAndMessage) {
  bool reached_end = false;

  const absl::Status status = ReturnIfErrorOn(Fail("journal is closed"), &reached_end);

  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "journal is closed");
  EXPECT_FALSE(reached_end);
}

TEST(StatusMacrosTest, ReturnIfErrorKeepsPayloads) {
  absl::Status with_payload = absl::InvalidArgumentError("bad");
  with_payload.SetPayload("type.example/x", absl::Cord("detail"));
  bool reached_end = false;

  const absl::Status status = ReturnIfErrorOn(with_payload, &reached_end);

  EXPECT_EQ(status, with_payload);
  EXPECT_EQ(status.GetPayload("type.example/x"), absl::Cord("detail"));
}

TEST(StatusMacrosTest, ReturnIfErrorAcceptsAStatusOr) {
  auto run = [](bool ok) -> absl::Status {
    RETURN_IF_ERROR(Number(ok, 1));
    return absl::OkStatus();
  };

  EXPECT_EQ(run(true), absl::OkStatus());
  EXPECT_EQ(run(false), absl::InvalidArgumentError("no number"));
}

TEST(StatusMacrosTest, ReturnIfErrorWorksInAFunctionReturningStatusOr) {
  auto run = [](absl::Status step) -> absl::StatusOr<std::string> {
    RETURN_IF_ERROR(step);
    return "done";
  };

  EXPECT_EQ(run(absl::OkStatus()).value(), "done");
  EXPECT_EQ(run(absl::UnavailableError("later")).status(), absl::UnavailableError("later"));
}

TEST(StatusMacrosTest, ReturnIfErrorEvaluatesItsArgumentOnce) {
  int calls = 0;
  auto run = [&calls]() -> absl::Status {
    RETURN_IF_ERROR((++calls, absl::OkStatus()));
    return absl::OkStatus();
  };

  EXPECT_EQ(run(), absl::OkStatus());
  EXPECT_EQ(calls, 1);
}

TEST(StatusMacrosTest, ReturnIfErrorIsOneStatementInAnUnbracedIf) {
  auto run = [](bool check) -> absl::Status {
    if (check)
      RETURN_IF_ERROR(Fail("checked"));
    else
      return absl::OkStatus();
    return absl::InternalError("unreachable");
  };

  EXPECT_EQ(run(true), absl::FailedPreconditionError("checked"));
  EXPECT_EQ(run(false), absl::OkStatus());
}

TEST(StatusMacrosTest, AssignOrReturnDeclaresTheValue) {
  auto run = [](bool ok) -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(const int value, Number(ok, 20));
    return value + 1;
  };

  EXPECT_EQ(run(true).value(), 21);
  EXPECT_EQ(run(false).status(), absl::InvalidArgumentError("no number"));
}

TEST(StatusMacrosTest, AssignOrReturnAssignsAnExistingVariable) {
  int value = 0;
  auto run = [&value](bool ok) -> absl::Status {
    ASSIGN_OR_RETURN(value, Number(ok, 7));
    return absl::OkStatus();
  };

  EXPECT_EQ(run(false), absl::InvalidArgumentError("no number"));
  EXPECT_EQ(value, 0);
  EXPECT_EQ(run(true), absl::OkStatus());
  EXPECT_EQ(value, 7);
}

TEST(StatusMacrosTest, AssignOrReturnMovesMoveOnlyValues) {
  auto make = []() -> absl::StatusOr<std::unique_ptr<int>> { return std::make_unique<int>(5); };
  auto run = [&make]() -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(std::unique_ptr<int> owned, make());
    return *owned;
  };

  EXPECT_EQ(run().value(), 5);
}

TEST(StatusMacrosTest, AssignOrReturnTwiceOnOneLineUsesDistinctTemporaries) {
  auto run = []() -> absl::StatusOr<int> {
    // clang-format off
    ASSIGN_OR_RETURN(int a, Number(true, 2)); ASSIGN_OR_RETURN(int b, Number(true, 3));
    // clang-format on
    return a * b;
  };

  EXPECT_EQ(run().value(), 6);
}

TEST(StatusMacrosTest, AssignOrReturnDeducesATemplateTypeWithAuto) {
  auto pair = []() -> absl::StatusOr<std::pair<int, int>> { return std::make_pair(1, 2); };
  auto run = [&pair]() -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(auto p, pair());
    return p.first + p.second;
  };

  EXPECT_EQ(run().value(), 3);
}

}  // namespace
}  // namespace batchd::core
