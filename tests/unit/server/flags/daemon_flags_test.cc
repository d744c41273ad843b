#include "server/flags/daemon_flags.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

TEST(ParseLogLevelTest, AcceptsTheFiveLevels) {
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
}

TEST(ParseLogLevelTest, RejectsAnythingElse) {
  for (const char* name : {"", "INFO", "warning", "err", "off", "loud"}) {
    absl::StatusOr<spdlog::level::level_enum> level = ParseLogLevel(name);
    EXPECT_EQ(level.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(level.status().message(),
              absl::StrCat("invalid --log-level '", name,
                           "': expected one of trace, debug, info, warn, error"));
  }
}

}  // namespace
}  // namespace batchd::server
