#include "server/flags/flag_help.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Flags of this test only.
ABSL_FLAG(std::string, help_test_address, "127.0.0.1:1",
          "An address with a help text long enough to be wrapped onto a second line of the "
          "output, which Abseil's own help would do as well");
ABSL_FLAG(bool, help_test_switch, false, "A switch");

namespace batchd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Scope = HelpRequest::Scope;

bool NoDaemonFiles(absl::string_view) { return false; }

TEST(FindHelpRequestTest, EachHelpFlag) {
  EXPECT_FALSE(FindHelpRequest({"batchd", "--listen=x"}).has_value());
  EXPECT_FALSE(FindHelpRequest({"batchd", "--", "--help"}).has_value());
  EXPECT_EQ(FindHelpRequest({"batchd", "--help"})->scope, Scope::kDaemon);
  EXPECT_EQ(FindHelpRequest({"batchd", "-helpshort"})->scope, Scope::kDaemon);
  EXPECT_EQ(FindHelpRequest({"batchd", "--helpfull"})->scope, Scope::kAll);
  const std::optional<HelpRequest> match = FindHelpRequest({"batchd", "--help=grace"});
  EXPECT_EQ(match->scope, Scope::kMatching);
  EXPECT_EQ(match->pattern, "grace");
  EXPECT_EQ(FindHelpRequest({"batchd", "--helpmatch=x"})->scope, Scope::kMatching);
  const std::optional<HelpRequest> on = FindHelpRequest({"batchd", "--helpon=shell_flags"});
  EXPECT_EQ(on->scope, Scope::kFile);
  EXPECT_EQ(on->pattern, "shell_flags");
}

TEST(FlagsHelpTest, ListsDashedNamesWithDefaultsWrappedAt80Columns) {
  const std::string help =
      FlagsHelp({Scope::kFile, "flag_help_test"}, "batchd", "usage text", NoDaemonFiles);
  EXPECT_THAT(help, HasSubstr("batchd: usage text\n\n  Flags from "));
  EXPECT_THAT(help, HasSubstr("flag_help_test.cc:\n    --help-test-address (An address"));
  EXPECT_THAT(help, HasSubstr("\n      well); default: \"127.0.0.1:1\";\n"));
  EXPECT_THAT(help, HasSubstr("    --help-test-switch (A switch); default: false;\n"));
  EXPECT_THAT(help, Not(HasSubstr("help_test_")));
  EXPECT_THAT(help, Not(HasSubstr("--listen")));  // another file
  for (absl::string_view line : absl::StrSplit(help, '\n')) EXPECT_LE(line.size(), 80u) << line;
}

TEST(FlagsHelpTest, DaemonScopeListsTheDaemonsFiles) {
  const auto only_this_test = [](absl::string_view file) {
    return absl::StrContains(file, "flag_help_test");
  };
  const std::string help = FlagsHelp({Scope::kDaemon, ""}, "batchd", "u", only_this_test);
  EXPECT_THAT(help, HasSubstr("--help-test-switch"));
  EXPECT_THAT(help, Not(HasSubstr("--listen")));
  EXPECT_THAT(help, HasSubstr("Try --helpfull"));
  EXPECT_THAT(FlagsHelp({Scope::kDaemon, ""}, "batchd", "u", NoDaemonFiles),
              HasSubstr("No flags matched."));
  EXPECT_THAT(FlagsHelp({Scope::kAll, ""}, "batchd", "u", NoDaemonFiles),
              HasSubstr("--help-test-switch"));
}

}  // namespace
}  // namespace batchd::server
