#include "core/base/enum_name.h"

#include <cstdint>
#include <optional>
#include <string_view>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

enum class Colour : uint8_t { kRed, kGreen, kBlue };

constexpr auto kColourNames = MakeEnumNames<Colour>(
    {{Colour::kRed, "red"}, {Colour::kGreen, "green"}, {Colour::kBlue, "blue"}}, "UNKNOWN");

// The table is usable where a constant is needed.
static_assert(kColourNames.size() == 3);
static_assert(std::string_view(kColourNames.Name(Colour::kGreen)) == "green");
static_assert(kColourNames.Parse("blue") == Colour::kBlue);

TEST(EnumNamesTest, NamesEveryValueAndSaysUnknownOfOthers) {
  EXPECT_STREQ(kColourNames.Name(Colour::kRed), "red");
  EXPECT_STREQ(kColourNames.Name(Colour::kGreen), "green");
  EXPECT_STREQ(kColourNames.Name(Colour::kBlue), "blue");
  EXPECT_STREQ(kColourNames.Name(static_cast<Colour>(7)), "UNKNOWN");
}

TEST(EnumNamesTest, ParsesExactNamesOnly) {
  EXPECT_EQ(kColourNames.Parse("red"), Colour::kRed);
  EXPECT_EQ(kColourNames.Parse("green"), Colour::kGreen);
  EXPECT_EQ(kColourNames.Parse("Red"), std::nullopt);
  EXPECT_EQ(kColourNames.Parse("re"), std::nullopt);
  EXPECT_EQ(kColourNames.Parse(""), std::nullopt);
  EXPECT_EQ(kColourNames.Parse("UNKNOWN"), std::nullopt);
}

TEST(EnumNamesTest, ParseReadsBackEveryName) {
  for (const EnumName<Colour>& row : kColourNames) {
    EXPECT_EQ(kColourNames.Parse(row.name), row.value) << row.name;
    EXPECT_STREQ(kColourNames.Name(row.value), row.name);
  }
}

TEST(EnumNamesTest, ChoicesListTheNamesInTableOrder) {
  EXPECT_EQ(kColourNames.Choices(), "red, green or blue");
  constexpr auto two = MakeEnumNames<Colour>({{Colour::kBlue, "b"}, {Colour::kRed, "r"}}, "?");
  EXPECT_EQ(two.Choices(), "b or r");
  constexpr auto one = MakeEnumNames<Colour>({{Colour::kRed, "only"}}, "?");
  EXPECT_EQ(one.Choices(), "only");
}

}  // namespace
}  // namespace batchd::core
