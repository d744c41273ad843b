#include "core/executors/shell/shell_input.h"

#include <boost/json/parse.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

absl::StatusOr<ShellInput> Parse(const std::string& json) {
  return ParseShellInput(boost::json::parse(json));
}

TEST(ParseShellInputTest, ArgvAloneLeavesTheRestAtTheirDefaults) {
  absl::StatusOr<ShellInput> input = Parse(R"({"argv": ["echo", "a b", ""]})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_THAT(input->argv, ElementsAre("echo", "a b", ""));
  EXPECT_TRUE(input->env.empty());
  EXPECT_EQ(input->cwd, "");
  EXPECT_EQ(input->stdin_data, std::nullopt);
}

TEST(ParseShellInputTest, ReadsEveryFieldKeepingTheEnvInTheTasksOrder) {
  absl::StatusOr<ShellInput> input = Parse(
      R"({"stdin": "line\n", "cwd": "/tmp", "env": {"Z": "last", "A": "", "M": "x=y"},
          "argv": ["/bin/cat", "-"]})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_THAT(input->argv, ElementsAre("/bin/cat", "-"));
  EXPECT_THAT(input->env, ElementsAre(Pair("Z", "last"), Pair("A", ""), Pair("M", "x=y")));
  EXPECT_EQ(input->cwd, "/tmp");
  EXPECT_EQ(input->stdin_data, std::optional<std::string>("line\n"));
}

TEST(ParseShellInputTest, EmptyStdinIsKeptAndStdinMayHoldNul) {
  absl::StatusOr<ShellInput> input = Parse(R"({"argv": ["cat"], "stdin": ""})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_EQ(input->stdin_data, std::optional<std::string>(""));
  // stdin is bytes on a pipe, not a C string: a NUL is data like any other byte.
  input = Parse(R"({"argv": ["cat"], "stdin": "a\u0000b"})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_EQ(input->stdin_data, std::optional<std::string>(std::string("a\0b", 3)));
}

TEST(ParseShellInputTest, EmptyEnvObjectAndEmptyCwdAreAccepted) {
  absl::StatusOr<ShellInput> input = Parse(R"({"argv": ["pwd"], "env": {}, "cwd": ""})");
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_TRUE(input->env.empty());
  EXPECT_EQ(input->cwd, "");
}

struct BadInput {
  std::string json;
  std::string message;
};

// The cases the shell executor's own test does not already reach through a task.
TEST(ParseShellInputTest, BadFieldsAreInvalidArgumentNamingTheField) {
  const std::vector<BadInput> cases = {
      {R"(null)",
       "shell: input must be an object {\"argv\": [program, args...], \"env\": {...}, "
       "\"cwd\": \"...\", \"stdin\": \"...\"}"},
      {R"(["echo", "hi"])",
       "shell: input must be an object {\"argv\": [program, args...], \"env\": {...}, "
       "\"cwd\": \"...\", \"stdin\": \"...\"}"},
      {R"({"argv": null})", "shell: input.argv must be an array of strings"},
      {R"({"argv": {"0": "echo"}})", "shell: input.argv must be an array of strings"},
      {R"({"argv": [null]})", "shell: input.argv[0] must be a string"},
      {R"({"argv": ["a", "b", ["c"]]})", "shell: input.argv[2] must be a string"},
      {R"({"argv": ["ec\u0000ho"]})", "shell: input.argv[0] must not contain NUL"},
      {R"({"argv": ["env"], "env": null})", "shell: input.env must be an object of strings"},
      {R"({"argv": ["env"], "env": "A=1"})", "shell: input.env must be an object of strings"},
      {R"({"argv": ["env"], "env": {"": "1"}})",
       "shell: input.env[\"\"] has an invalid name: it must be non-empty, without '=' or NUL"},
      {R"({"argv": ["env"], "env": {"A": "ok", "B": null}})",
       "shell: input.env.B must be a string"},
      {R"({"argv": ["env"], "env": {"A": "1\u00002"}})", "shell: input.env.A must not contain NUL"},
      {R"({"argv": ["pwd"], "cwd": "/t\u0000mp"})", "shell: input.cwd must not contain NUL"},
      {R"({"argv": ["pwd"], "cwd": null})", "shell: input.cwd must be a string"},
      {R"({"argv": ["cat"], "stdin": 5})", "shell: input.stdin must be a string"},
      {R"({"argv": ["cat"], "stdin": null})", "shell: input.stdin must be a string"},
      {R"({"ARGV": ["cat"]})", "shell: unknown field input.ARGV (known: argv, env, cwd, stdin)"},
  };
  for (const BadInput& c : cases) {
    absl::StatusOr<ShellInput> input = Parse(c.json);
    EXPECT_EQ(input.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(input.status().message(), c.message) << c.json;
  }
}

TEST(ParseShellInputTest, AnEnvNameWithNulIsNamedWithIt) {
  absl::StatusOr<ShellInput> input = Parse(R"({"argv": ["env"], "env": {"A\u0000B": "1"}})");
  EXPECT_EQ(input.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(input.status().message(),
            std::string("shell: input.env[\"A") + '\0' +
                "B\"] has an invalid name: it must be non-empty, without '=' or NUL");
}

TEST(ParseShellInputTest, UnknownFieldsAreRefusedBeforeAnyFieldIsChecked) {
  // No argv at all, yet the unknown field is what is reported.
  EXPECT_EQ(Parse(R"({"command": "ls"})").status().message(),
            "shell: unknown field input.command (known: argv, env, cwd, stdin)");
}

TEST(ParseShellInputTest, ArgvIsCheckedBeforeTheOtherFields) {
  EXPECT_EQ(Parse(R"({"env": 1, "cwd": 2, "stdin": 3})").status().message(),
            "shell: input.argv is required: an array of strings, the program and its arguments");
  EXPECT_EQ(Parse(R"({"argv": [""], "env": 1})").status().message(),
            "shell: input.argv[0] must name a program, not be empty");
}

}  // namespace
}  // namespace batchd::core
