// Tests for batchctl's argv parsing and per-command syntax checks.
#include "client/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace batchd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::string_view kDefault = "127.0.0.1:50051";

CommandLine Parse(const std::vector<std::string>& args) {
  absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, kDefault);
  EXPECT_TRUE(command_line.ok()) << command_line.status();
  return command_line.value_or(CommandLine{});
}

TEST(ParseCommandLineTest, GlobalFlagsBeforeOrAfterTheCommand) {
  const CommandLine before = Parse({"--addr", "h:1", "--timeout", "5s", "run", "f.json"});
  const CommandLine after = Parse({"run", "f.json", "--addr=h:1", "--timeout=5"});
  for (const CommandLine& command_line : {before, after}) {
    EXPECT_EQ(command_line.command, "run");
    EXPECT_THAT(command_line.args, ElementsAre("f.json"));
    EXPECT_EQ(command_line.address, "h:1");
    EXPECT_EQ(command_line.timeout, absl::Seconds(5));
  }
}

TEST(ParseCommandLineTest, DefaultsAndCommandFlags) {
  const CommandLine command_line = Parse({"cancel", "b1", "--reason", "too slow"});
  EXPECT_EQ(command_line.address, kDefault);
  EXPECT_FALSE(command_line.timeout.has_value());
  EXPECT_EQ(command_line.reason, "too slow");
  EXPECT_THAT(command_line.command_flags, ElementsAre("reason"));
  EXPECT_TRUE(Parse({"submit", "-", "--watch"}).watch);
  EXPECT_TRUE(Parse({"--follow", "results", "b1"}).follow);
  EXPECT_TRUE(Parse({"-h"}).help);
}

TEST(ParseCommandLineTest, DashIsPositionalAndDoubleDashEndsFlags) {
  EXPECT_THAT(Parse({"layers", "-"}).args, ElementsAre("-"));
  EXPECT_THAT(Parse({"cancel", "--", "--odd-id"}).args, ElementsAre("--odd-id"));
}

TEST(ParseCommandLineTest, RejectsBadFlags) {
  const auto message = [](const std::vector<std::string>& args) {
    absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, kDefault);
    EXPECT_EQ(command_line.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(command_line.status().message());
  };
  EXPECT_EQ(message({"run", "--bogus"}), "unknown flag '--bogus'");
  EXPECT_EQ(message({"-x"}), "unknown flag '-x'");
  EXPECT_EQ(message({"health", "--addr"}), "flag --addr needs a value");
  EXPECT_EQ(message({"submit", "f", "--watch=yes"}), "flag --watch takes no value");
  EXPECT_THAT(message({"--timeout", "soon", "health"}), HasSubstr("invalid --timeout 'soon'"));
}

TEST(ParseTimeoutTest, AcceptsDurationsAndSeconds) {
  EXPECT_EQ(ParseTimeout("500ms").value(), absl::Milliseconds(500));
  EXPECT_EQ(ParseTimeout("1m30s").value(), absl::Seconds(90));
  EXPECT_EQ(ParseTimeout("2.5").value(), absl::Milliseconds(2500));
  EXPECT_EQ(ParseTimeout("0").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTimeout("-1s").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTimeout("inf").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CheckSyntaxTest, ChecksArgumentCountAndCommandFlags) {
  const CommandSyntax submit{"submit", "submit FILE [--watch]", 1, {"watch"}};
  EXPECT_TRUE(CheckSyntax(Parse({"submit", "f", "--watch"}), submit).ok());
  EXPECT_EQ(CheckSyntax(Parse({"submit"}), submit).message(),
            "'submit' takes 1 argument; usage: batchctl submit FILE [--watch]");
  EXPECT_EQ(CheckSyntax(Parse({"submit", "f", "--follow"}), submit).message(),
            "flag --follow does not apply to 'submit'; usage: batchctl submit FILE [--watch]");
  const CommandSyntax list{"list", "list", 0, {}};
  EXPECT_EQ(CheckSyntax(Parse({"list", "x", "--addr", "h:1"}), list).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckSyntax(Parse({"list", "--addr", "h:1"}), list).ok());
}

}  // namespace
}  // namespace batchd::client
