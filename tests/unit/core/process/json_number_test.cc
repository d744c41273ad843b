#include "core/process/json_number.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <optional>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

TEST(AsNonNegativeIntegerTest, AcceptsNonNegativeInt64AndUint64) {
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(int64_t{0})), std::optional<uint64_t>(0));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(int64_t{42})), std::optional<uint64_t>(42));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(std::numeric_limits<int64_t>::max())),
            std::optional<uint64_t>(9223372036854775807u));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(std::numeric_limits<uint64_t>::max())),
            std::optional<uint64_t>(18446744073709551615u));
  // As the parser produces them: small integers are int64, ones beyond int64 are uint64.
  EXPECT_EQ(AsNonNegativeInteger(boost::json::parse("7")), std::optional<uint64_t>(7));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::parse("18446744073709551615")),
            std::optional<uint64_t>(18446744073709551615u));
}

TEST(AsNonNegativeIntegerTest, RefusesNegativeIntegers) {
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(int64_t{-1})), std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(std::numeric_limits<int64_t>::min())),
            std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::parse("-3")), std::nullopt);
}

TEST(AsNonNegativeIntegerTest, AcceptsWholeDoublesUpTo9e15) {
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(0.0)), std::optional<uint64_t>(0));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(-0.0)), std::optional<uint64_t>(0));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(25.0)), std::optional<uint64_t>(25));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::parse("1e3")), std::optional<uint64_t>(1000));
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(9.0e15)),
            std::optional<uint64_t>(9000000000000000u));
}

TEST(AsNonNegativeIntegerTest, RefusesFractionalNegativeHugeAndNonFiniteDoubles) {
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(0.5)), std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(2.000001)), std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(-1.0)), std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(9.0e15 + 2)), std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(1e300)), std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(std::numeric_limits<double>::infinity())),
            std::nullopt);
  EXPECT_EQ(AsNonNegativeInteger(boost::json::value(std::numeric_limits<double>::quiet_NaN())),
            std::nullopt);
}

TEST(AsNonNegativeIntegerTest, RefusesEverythingThatIsNotANumber) {
  for (const char* json : {"null", "true", "false", R"("5")", "[5]", R"({"n": 5})"}) {
    EXPECT_EQ(AsNonNegativeInteger(boost::json::parse(json)), std::nullopt) << json;
  }
}

}  // namespace
}  // namespace batchd::core
