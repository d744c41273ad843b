#include "client/format/units_format.h"

#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace batchd::client {
namespace {

TEST(UnitsFormatTest, FormatsDurationsRatesAndTimestamps) {
  EXPECT_EQ(FormatEta(absl::Milliseconds(3200)), "3.2s");
  EXPECT_EQ(FormatEta(absl::Seconds(245)), "4m05s");
  EXPECT_EQ(FormatEta(absl::Hours(2) + absl::Minutes(3)), "2h03m");
  EXPECT_EQ(FormatEta(absl::Seconds(-1)), "0.0s");
  EXPECT_EQ(FormatMillis(412.34), "412.3 ms");
  EXPECT_EQ(FormatMillis(1520), "1.52 s");
  EXPECT_EQ(FormatRate(1234.4), "1234 tasks/s");
  EXPECT_EQ(FormatRate(2.5), "2.5 tasks/s");
  EXPECT_EQ(FormatTimestamp({}), "-");
  EXPECT_EQ(FormatPercent(1, 3), "33.3%");
}

}  // namespace
}  // namespace batchd::client
