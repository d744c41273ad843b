#include "server/flags/flag_names.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/flags/flag_environment.h"

// Flags of this test only.
ABSL_FLAG(std::string, names_test_value, "default", "test flag");
ABSL_FLAG(int, names_test_count, 0, "test flag");
ABSL_FLAG(bool, names_test_switch, false, "test flag");

namespace batchd::server {
namespace {

using Args = std::vector<std::string>;
using ::testing::ElementsAre;

class FlagNamesTest : public ::testing::Test {
 protected:
  // A file under the test's temporary directory holding `text`, removed with the test.
  std::string WriteFile(const std::string& text) {
    std::string path =
        absl::StrCat(::testing::TempDir(), "flag_names_test_", getpid(), "_", files_.size());
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& path : files_) std::remove(path.c_str());
  }

 private:
  absl::FlagSaver saver_;
  std::vector<std::string> files_;
};

// Rewrites `args`, then parses them with Abseil as main does.
void Parse(const Args& args) {
  absl::StatusOr<Args> normalized = NormalizeFlagNames(args);
  ASSERT_TRUE(normalized.ok()) << normalized.status();
  std::vector<char*> argv;
  for (std::string& arg : *normalized) argv.push_back(arg.data());
  argv.push_back(nullptr);
  absl::ParseCommandLine(static_cast<int>(argv.size() - 1), argv.data());
}

TEST(DashedFlagNameTest, UnderscoresBecomeDashes) {
  EXPECT_EQ(DashedFlagName("log_level"), "log-level");
  EXPECT_EQ(DashedFlagName("test_journal_page_limit_file"), "test-journal-page-limit-file");
  EXPECT_EQ(DashedFlagName("listen"), "listen");
}

TEST_F(FlagNamesTest, DashedAndUnderscoredNamesAreSpelledAsRegistered) {
  EXPECT_THAT(
      *NormalizeFlagNames({"batchd", "--names-test-value=a", "--names_test_value=b",
                           "-names-test-count=3", "--names-test-switch", "--nonames-test-switch",
                           "--names-test-switch=false"}),
      ElementsAre("batchd", "--names_test_value=a", "--names_test_value=b", "-names_test_count=3",
                  "--names_test_switch", "--nonames_test_switch", "--names_test_switch=false"));
}

TEST_F(FlagNamesTest, SeparateValuesAreKeptEvenWhenTheyLookLikeFlags) {
  EXPECT_THAT(
      *NormalizeFlagNames(
          {"batchd", "--names-test-value", "--names-test-count", "--names-test-count", "4"}),
      ElementsAre("batchd", "--names_test_value", "--names-test-count", "--names_test_count", "4"));
}

TEST_F(FlagNamesTest, UnknownNamesPositionalArgumentsAndTheRestAfterDoubleDashAreKept) {
  EXPECT_THAT(*NormalizeFlagNames({"batchd", "--no-such-flag=1", "--nonames-test-value", "file",
                                   "-", "--", "--names-test-value=x"}),
              ElementsAre("batchd", "--no-such-flag=1", "--nonames-test-value", "file", "-", "--",
                          "--names-test-value=x"));
}

TEST_F(FlagNamesTest, NameListsOfGeneratorFlagsAreRewritten) {
  EXPECT_THAT(*NormalizeFlagNames({"batchd", "--undefok=names-test-count,gone-flag"}),
              ElementsAre("batchd", "--undefok=names_test_count,gone-flag"));
}

TEST_F(FlagNamesTest, FlagfilesAreExpandedInPlace) {
  const std::string inner = WriteFile("--names-test-switch\n");
  const std::string outer =
      WriteFile(absl::StrCat("# a comment\n\n   --names-test-value=from file\n--flagfile=", inner,
                             "\n--names-test-count=7\n"));
  EXPECT_THAT(*NormalizeFlagNames(
                  {"batchd", "--names-test-count=1", "--flagfile", outer, "--names-test-count=2"}),
              ElementsAre("batchd", "--names_test_count=1", "--names_test_value=from file",
                          "--names_test_switch", "--names_test_count=7", "--names_test_count=2"));
}

TEST_F(FlagNamesTest, UnreadableOrMalformedFlagfilesAreErrors) {
  absl::StatusOr<Args> missing = NormalizeFlagNames({"batchd", "--flagfile=/nonexistent/flags"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "Can't open flagfile /nonexistent/flags");
  const std::string bad = WriteFile("--names-test-count=1\nlisten=x\n");
  absl::StatusOr<Args> malformed = NormalizeFlagNames({"batchd", "--flagfile=" + bad});
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(malformed.status().message(),
            absl::StrCat("Unexpected line in the flagfile ", bad, ": listen=x"));
  const std::string self = WriteFile("");
  std::ofstream(self) << "--flagfile=" << self << "\n";
  EXPECT_EQ(NormalizeFlagNames({"batchd", "--flagfile=" + self}).status().message(),
            "--flagfile nested deeper than 16 files");
}

TEST_F(FlagNamesTest, AValueOfTheWrongTypeIsRefusedNamingTheDashedFlag) {
  absl::StatusOr<Args> result = NormalizeFlagNames({"batchd", "--names_test_count=many"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(result.status().message(),
                               "Illegal value 'many' specified for flag 'names-test-count'"))
      << result.status();
  result = NormalizeFlagNames({"batchd", "--names-test-switch=maybe"});
  EXPECT_TRUE(absl::StartsWith(result.status().message(),
                               "Illegal value 'maybe' specified for flag 'names-test-switch'"))
      << result.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_names_test_count), 0);  // nothing was set
  EXPECT_FALSE(absl::GetFlag(FLAGS_names_test_switch));
}

TEST_F(FlagNamesTest, AbseilParsesTheResultAndTheLastValueWins) {
  const std::string file = WriteFile("--names-test-value=from-file\n--names-test-count=5\n");
  Parse({"batchd", "--names-test-count=1", "--flagfile=" + file, "--names-test-switch",
         "--names_test_value", "from-command-line"});
  EXPECT_EQ(absl::GetFlag(FLAGS_names_test_value), "from-command-line");
  EXPECT_EQ(absl::GetFlag(FLAGS_names_test_count), 5);
  EXPECT_TRUE(absl::GetFlag(FLAGS_names_test_switch));
}

TEST_F(FlagNamesTest, TheCommandLineWinsOverTheEnvironment) {
  const char* const environment[] = {"BATCHD_NAMES_TEST_VALUE=from-env",
                                     "BATCHD_NAMES_TEST_COUNT=9", nullptr};
  ASSERT_TRUE(ApplyFlagsFromEnvironment(environment, [](const absl::CommandLineFlag& flag) {
                return absl::string_view(flag.Name()).substr(0, 11) == "names_test_";
              }).ok());
  Parse({"batchd", "--names-test-value=from-command-line"});
  EXPECT_EQ(absl::GetFlag(FLAGS_names_test_value), "from-command-line");
  EXPECT_EQ(absl::GetFlag(FLAGS_names_test_count), 9);
}

}  // namespace
}  // namespace batchd::server
