#include "server/flags/limits_flags.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/flag_test.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LimitsFlagsTest : public batchd::testing::FlagTest {
 protected:
  LimitsFlagsTest() : path_(::testing::TempDir() + "limits-flags-" + std::to_string(::getpid())) {}
  ~LimitsFlagsTest() override { std::remove(path_.c_str()); }

  void Write(const std::string& text) { std::ofstream(path_) << text; }

  const std::string path_;
};

TEST_F(LimitsFlagsTest, NoFileMeansNoLimitsAndTheDefaultKeyBound) {
  absl::StatusOr<LimitsConfig> config = LimitsConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->file, "");
  EXPECT_THAT(config->limits, IsEmpty());
  EXPECT_EQ(config->max_keys, 100'000u);
}

TEST_F(LimitsFlagsTest, TheFilesLimitsAreReadInFileOrder) {
  Write(R"({"limits": [{"key": "b", "max_in_flight": 2}, {"key": "a", "max_in_flight": 1}]})");
  Set("limits_file", path_);
  Set("max_limit_keys", "5");
  absl::StatusOr<LimitsConfig> config = LimitsConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->file, path_);
  ASSERT_EQ(config->limits.size(), 2u);
  EXPECT_EQ(config->limits[0].key, "b");
  EXPECT_EQ(config->limits[1].max_in_flight, 1);
  EXPECT_EQ(config->max_keys, 5u);
}

TEST_F(LimitsFlagsTest, AFileWithMoreLimitsThanTheKeyBoundIsRefused) {
  Write(R"({"limits": [{"key": "b", "max_in_flight": 2}, {"key": "a", "max_in_flight": 1}]})");
  Set("limits_file", path_);
  Set("max_limit_keys", "1");
  absl::StatusOr<LimitsConfig> config = LimitsConfigFromFlags();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "--limits-file: " + path_ + " has 2 limits, more than --max-limit-keys=1");
}

TEST_F(LimitsFlagsTest, ABadFileIsNamedWithLineAndColumn) {
  Write("{\"limits\": [\n {\"key\": \"a\", \"max_in_flight\": \"two\"}]}");
  Set("limits_file", path_);
  absl::StatusOr<LimitsConfig> config = LimitsConfigFromFlags();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("--limits-file: " + path_ + ":2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("limits[0].max_in_flight"));
}

TEST_F(LimitsFlagsTest, AZeroKeyBoundIsRefused) {
  Set("max_limit_keys", "0");
  EXPECT_EQ(LimitsConfigFromFlags().status().message(),
            "invalid --max-limit-keys 0: must be from 1 to 10000000");
}

}  // namespace
}  // namespace batchd::server
