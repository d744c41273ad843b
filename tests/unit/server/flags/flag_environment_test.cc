#include "server/flags/flag_environment.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

// Flags of this test only; the predicate below picks them by name.
ABSL_FLAG(std::string, env_test_name, "default", "test flag");
ABSL_FLAG(absl::Duration, env_test_grace, absl::Seconds(1), "test");
ABSL_FLAG(bool, env_test_switch, false, "test flag");

namespace batchd::server {
namespace {

bool IsTestFlag(const absl::CommandLineFlag& flag) {
  return absl::StartsWith(flag.Name(), "env_test_");
}

absl::StatusOr<std::vector<std::string>> Apply(std::vector<const char*> environment) {
  environment.push_back(nullptr);
  return ApplyFlagsFromEnvironment(environment.data(), IsTestFlag);
}

class FlagEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_env_test_name, "default");
    absl::SetFlag(&FLAGS_env_test_grace, absl::Seconds(1));
    absl::SetFlag(&FLAGS_env_test_switch, false);
  }
};

TEST(EnvironmentVariableForTest, UpperSnakeWithPrefix) {
  EXPECT_EQ(EnvironmentVariableFor("listen"), "BATCHD_LISTEN");
  EXPECT_EQ(EnvironmentVariableFor("auth-token-file"), "BATCHD_AUTH_TOKEN_FILE");
  EXPECT_EQ(EnvironmentVariableFor("max_running"), "BATCHD_MAX_RUNNING");
}

TEST_F(FlagEnvironmentTest, SetsTheFlagsItSelects) {
  absl::StatusOr<std::vector<std::string>> unknown =
      Apply({"PATH=/bin", "BATCHD_ENV_TEST_NAME=from-env", "BATCHD_ENV_TEST_GRACE=250ms",
             "BATCHD_ENV_TEST_SWITCH=true"});
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_TRUE(unknown->empty());
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_name), "from-env");
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_grace), absl::Milliseconds(250));
  EXPECT_TRUE(absl::GetFlag(FLAGS_env_test_switch));
}

TEST_F(FlagEnvironmentTest, EmptyValuesAreSkipped) {
  ASSERT_TRUE(Apply({"BATCHD_ENV_TEST_NAME="}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_name), "default");
}

TEST_F(FlagEnvironmentTest, ReportsUnknownVariablesButNotBatchctls) {
  absl::StatusOr<std::vector<std::string>> unknown =
      Apply({"BATCHD_ENV_TEST_NAMEE=x", "BATCHD_ADDR=unix:/x", "BATCHD_TOKEN_FILE=/t",
             "NOT_BATCHD_X=1", "BATCHD_LISTEN=:1"});
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  // BATCHD_LISTEN is a real daemon flag, but not one this test's predicate selects.
  EXPECT_EQ(*unknown, (std::vector<std::string>{"BATCHD_ENV_TEST_NAMEE", "BATCHD_LISTEN"}));
}

TEST_F(FlagEnvironmentTest, UnparsableValueNamesVariableAndFlag) {
  absl::StatusOr<std::vector<std::string>> result = Apply({"BATCHD_ENV_TEST_GRACE=soon"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(result.status().message(),
                               "invalid BATCHD_ENV_TEST_GRACE='soon' for --env-test-grace: "))
      << result.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_env_test_grace), absl::Seconds(1));
}

}  // namespace
}  // namespace batchd::server
