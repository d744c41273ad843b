#include "client/format/text_table.h"

#include <gtest/gtest.h>

namespace batchd::client {
namespace {

TEST(TextTableTest, CountsCodePointsAndPadsMissingCells) {
  TextTable table({"A", "B"}, {TextTable::Align::kRight});
  table.AddRow({"\xC3\xA9\xC3\xA9", "x"});  // "éé": 4 bytes, 2 columns
  table.AddRow({"abc"});
  EXPECT_EQ(table.Render(), "  A  B\n \xC3\xA9\xC3\xA9  x\nabc\n");
}

TEST(TruncateTextTest, CutsAtCodePointBoundary) {
  EXPECT_EQ(TruncateText("short", 5), "short");
  EXPECT_EQ(TruncateText("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 4), "\xC3\xA9...");
  EXPECT_EQ(DisplayWidth("\xC3\xA9..."), 4U);
}

}  // namespace
}  // namespace batchd::client
