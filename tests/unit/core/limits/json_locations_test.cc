// JsonLocations: where values and member names start, by path; columns count characters.
#include "core/limits/json_locations.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::Optional;

TEST(JsonPositionAtTest, CountsLinesAndUtf8Characters) {
  const std::string_view text = "ab\n\xC3\xA9x\n";
  EXPECT_EQ(JsonPositionAt(text, 0), (JsonPosition{1, 1}));
  EXPECT_EQ(JsonPositionAt(text, 2), (JsonPosition{1, 3}));
  EXPECT_EQ(JsonPositionAt(text, 3), (JsonPosition{2, 1}));
  EXPECT_EQ(JsonPositionAt(text, 5), (JsonPosition{2, 2}));  // after the 2-byte é
  EXPECT_EQ(JsonPositionAt(text, 99), (JsonPosition{3, 1}));
}

TEST(JsonLocationsTest, FindsValuesAndNamesByPath) {
  const std::string_view text =
      "{\"a\": [1, {\"b\": \"x\\\"y\"}, [true]],\n"
      " \"c\\u0064\" : -2.5e3, \"e\": null}";
  const JsonLocations where(text);
  EXPECT_EQ(where.ValueOf(""), (JsonPosition{1, 1}));
  EXPECT_EQ(where.NameOf("a"), (JsonPosition{1, 2}));
  EXPECT_EQ(where.ValueOf("a"), (JsonPosition{1, 7}));
  EXPECT_EQ(where.ValueOf("a[0]"), (JsonPosition{1, 8}));
  EXPECT_EQ(where.ValueOf("a[1]"), (JsonPosition{1, 11}));
  EXPECT_EQ(where.NameOf("a[1].b"), (JsonPosition{1, 12}));
  EXPECT_EQ(where.ValueOf("a[1].b"), (JsonPosition{1, 17}));
  EXPECT_EQ(where.ValueOf("a[2][0]"), (JsonPosition{1, 27}));
  EXPECT_EQ(where.NameOf("cd"), (JsonPosition{2, 2}));  // names are decoded
  EXPECT_EQ(where.ValueOf("cd"), (JsonPosition{2, 14}));
  EXPECT_EQ(where.ValueOf("e"), (JsonPosition{2, 27}));
  EXPECT_EQ(where.repeated_member(), std::nullopt);
}

TEST(JsonLocationsTest, AMissingPathPointsAtItsNearestEnclosingValue) {
  const JsonLocations where(R"({"a": [{"b": 1}]})");
  EXPECT_EQ(where.ValueOf("a[0].missing"), (JsonPosition{1, 8}));
  EXPECT_EQ(where.ValueOf("a[3].b"), (JsonPosition{1, 7}));
  EXPECT_EQ(where.NameOf("nothing"), (JsonPosition{1, 1}));
  EXPECT_EQ(where.NameOf("a[0]"), (JsonPosition{1, 8}));  // an element has no name
}

TEST(JsonLocationsTest, ReportsTheFirstRepeatedMemberAndPointsAtTheRepeat) {
  const JsonLocations where(R"({"x": {"k": 1, "k": 2}, "y": 1, "y": 2})");
  EXPECT_THAT(where.repeated_member(), Optional(std::string("x.k")));
  EXPECT_EQ(where.NameOf("x.k"), (JsonPosition{1, 16}));
}

}  // namespace
}  // namespace batchd::core
