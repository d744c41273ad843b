#include "core/journal/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValueAndContinues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("56789", Crc32c("1234")), 0xE3069283u);
  const std::string long_text(1000, 'x');
  EXPECT_EQ(Crc32c(long_text.substr(3), Crc32c(long_text.substr(0, 3))), Crc32c(long_text));
}

}  // namespace
}  // namespace batchd::core
