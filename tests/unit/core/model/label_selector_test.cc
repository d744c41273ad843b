// LabelSelector: the Kubernetes equality forms, their matching, and malformed selectors.
#include "core/model/label_selector.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string>;

bool Selects(const std::string& selector, const Labels& labels) {
  absl::StatusOr<LabelSelector> s = LabelSelector::Parse(selector);
  EXPECT_TRUE(s.ok()) << selector << ": " << s.status();
  return s.ok() && s->Matches(labels);
}

TEST(LabelSelectorTest, EmptySelectsEverything) {
  EXPECT_TRUE(Selects("", {}));
  EXPECT_TRUE(Selects("  ", {{"env", "prod"}}));
  EXPECT_TRUE(LabelSelector::Parse("")->empty());
  EXPECT_TRUE(LabelSelector().Matches({{"a", "b"}}));
}

TEST(LabelSelectorTest, EqualityForms) {
  const Labels prod{{"env", "prod"}, {"team", "ml"}};
  EXPECT_TRUE(Selects("env=prod", prod));
  EXPECT_TRUE(Selects("env==prod", prod));
  EXPECT_FALSE(Selects("env=dev", prod));
  EXPECT_FALSE(Selects("zone=eu", prod));  // absent: not equal
  EXPECT_TRUE(Selects("env!=dev", prod));
  EXPECT_FALSE(Selects("env!=prod", prod));
  EXPECT_TRUE(Selects("zone!=eu", prod));  // absent counts as "not eu"
}

TEST(LabelSelectorTest, ExistenceForms) {
  const Labels labels{{"team", "ml"}};
  EXPECT_TRUE(Selects("team", labels));
  EXPECT_FALSE(Selects("env", labels));
  EXPECT_TRUE(Selects("!env", labels));
  EXPECT_FALSE(Selects("!team", labels));
}

TEST(LabelSelectorTest, EveryRequirementMustHoldAndSpacesAreIgnored) {
  const Labels labels{{"env", "prod"}, {"team", "ml"}};
  EXPECT_TRUE(Selects("env=prod,team,!legacy", labels));
  EXPECT_TRUE(Selects(" env = prod , team != web ,! legacy ", labels));
  EXPECT_FALSE(Selects("env=prod,team=web", labels));
}

TEST(LabelSelectorTest, EmptyValuesAndUnusualCharacters) {
  EXPECT_TRUE(Selects("note=", {{"note", ""}}));
  EXPECT_FALSE(Selects("note=", {{"note", "x"}}));
  EXPECT_TRUE(Selects("example.com/owner=ana_b-1", {{"example.com/owner", "ana_b-1"}}));
}

TEST(LabelSelectorTest, MalformedSelectorsSayWhichRequirement) {
  for (const char* bad : {",", "env=prod,", ",env", "a,,b", "=prod", "env=a=b", "env!prod", "!",
                          "!env=prod", "env in (a,b)", "env notin (a)", "a b", "env=a b", "env!"}) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(bad);
    ASSERT_FALSE(s.ok()) << "'" << bad << "' was accepted";
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("Malformed label selector requirement")) << bad;
  }
  EXPECT_EQ(LabelSelector::Parse("env=prod,=x").status().message(),
            "Malformed label selector requirement '=x': missing or malformed key");
}

}  // namespace
}  // namespace batchd::core
