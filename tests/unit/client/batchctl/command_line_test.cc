// Tests for batchctl's argv parsing and per-command syntax checks.
#include "client/batchctl/command_line.h"

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

TEST(ParseCommandLineTest, WorkerFlagsAndTrailingCommand) {
  const CommandLine command_line =
      Parse({"worker", "--executor", "a", "--executor=b", "--slots", "4", "--name", "w1",
             "--weight=2.5", "--", "python3", "-u", "task.py"});
  EXPECT_EQ(command_line.command, "worker");
  EXPECT_THAT(command_line.executors, ElementsAre("a", "b"));
  EXPECT_EQ(command_line.slots, 4u);
  EXPECT_EQ(command_line.name, "w1");
  EXPECT_EQ(command_line.weight, 2.5);
  EXPECT_THAT(command_line.command_flags, ElementsAre("executor", "name", "slots", "weight"));
  EXPECT_THAT(ArgsAfterDoubleDash(command_line), ElementsAre("python3", "-u", "task.py"));
  EXPECT_THAT(ArgsAfterDoubleDash(Parse({"cancel", "b1"})), ElementsAre());
  EXPECT_THAT(ArgsAfterDoubleDash(Parse({"cancel", "x", "--", "--odd-id"})),
              ElementsAre("--odd-id"));
}

TEST(ParseCommandLineTest, RejectsBadWorkerFlags) {
  const auto message = [](const std::vector<std::string>& args) {
    absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, kDefault);
    EXPECT_EQ(command_line.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(command_line.status().message());
  };
  EXPECT_EQ(message({"worker", "--slots", "0"}), "invalid --slots '0' (a positive integer)");
  EXPECT_EQ(message({"worker", "--slots=-1"}), "invalid --slots '-1' (a positive integer)");
  EXPECT_EQ(message({"worker", "--weight", "nan"}), "invalid --weight 'nan' (a positive number)");
  EXPECT_EQ(message({"worker", "--weight", "0"}), "invalid --weight '0' (a positive number)");
  EXPECT_EQ(message({"worker", "--executor="}), "--executor must not be empty");
}

TEST(ParseCommandLineTest, ListingFlags) {
  const CommandLine command_line =
      Parse({"list", "--state", "running", "--state=failed", "--selector", "env=prod,!legacy",
             "--page-size", "50", "--page-token=abc"});
  EXPECT_THAT(command_line.states, ElementsAre("running", "failed"));
  EXPECT_EQ(command_line.selector, "env=prod,!legacy");
  EXPECT_EQ(command_line.page_size, 50u);
  EXPECT_EQ(command_line.page_token, "abc");
  EXPECT_THAT(command_line.command_flags,
              ElementsAre("page-size", "page-token", "selector", "state"));
  const auto message = [](const std::vector<std::string>& args) {
    absl::StatusOr<CommandLine> parsed = ParseCommandLine(args, kDefault);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(parsed.status().message());
  };
  EXPECT_EQ(message({"list", "--page-size", "0"}), "invalid --page-size '0' (a positive integer)");
  EXPECT_EQ(message({"tasks", "b", "--state="}), "--state names a state");
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

TEST(CheckSyntaxTest, TrailingCommandFollowsTheArguments) {
  const CommandSyntax worker{"worker", "worker --executor NAME -- CMD", 0, {"executor"}, true};
  EXPECT_TRUE(CheckSyntax(Parse({"worker", "--executor", "e", "--", "cat"}), worker).ok());
  EXPECT_TRUE(CheckSyntax(Parse({"worker", "--", "sh", "-c", "cat", "--executor=e"}), worker).ok());
  EXPECT_EQ(CheckSyntax(Parse({"worker", "--executor", "e"}), worker).message(),
            "'worker' needs a command after '--'; usage: batchctl worker --executor NAME -- CMD");
  EXPECT_EQ(CheckSyntax(Parse({"worker", "--"}), worker).message(),
            "'worker' needs a command after '--'; usage: batchctl worker --executor NAME -- CMD");
  EXPECT_EQ(CheckSyntax(Parse({"worker", "extra", "--", "cat"}), worker).message(),
            "'worker' takes 0 arguments; usage: batchctl worker --executor NAME -- CMD");
  const CommandSyntax status{"status", "status ID", 1, {}};
  EXPECT_EQ(CheckSyntax(Parse({"status", "b1", "--slots", "2"}), status).message(),
            "flag --slots does not apply to 'status'; usage: batchctl status ID");
}

TEST(ParseCommandLineTest, SecurityFlagsAreGlobal) {
  const CommandLine command_line =
      Parse({"--token-file", "/t", "health", "--tls-ca=/ca", "--tls-cert", "/c", "--tls-key", "/k",
             "--tls-server-name", "batchd.internal"});
  EXPECT_EQ(command_line.token_file, "/t");
  EXPECT_EQ(command_line.tls_ca, "/ca");
  EXPECT_EQ(command_line.tls_cert, "/c");
  EXPECT_EQ(command_line.tls_key, "/k");
  EXPECT_EQ(command_line.tls_server_name, "batchd.internal");
  EXPECT_TRUE(command_line.command_flags.empty());
  EXPECT_EQ(ParseCommandLine({"--token-file="}, "h:1").status().message(),
            "--token-file must not be empty");
}

}  // namespace
}  // namespace batchd::client
