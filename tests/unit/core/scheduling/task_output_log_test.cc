#include "core/scheduling/task_output_log.h"

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

TEST(TaskOutputLogTest, ReadsFromAnyOffsetAcrossChunks) {
  TaskOutputLog log(1024);
  log.Append("hello ");
  log.Append("");  // nothing
  log.Append("world");
  EXPECT_EQ(log.end(), 11u);
  TaskOutputLog::Slice all = log.Read(0, 100);
  EXPECT_EQ(all.offset, 0u);
  EXPECT_EQ(all.data, "hello world");
  EXPECT_EQ(all.dropped, 0u);
  TaskOutputLog::Slice middle = log.Read(3, 5);
  EXPECT_EQ(middle.offset, 3u);
  EXPECT_EQ(middle.data, "lo wo");
  EXPECT_TRUE(log.Read(11, 100).data.empty());
}

TEST(TaskOutputLogTest, KeepsTheNewestBytesAndTellsALateReaderWhatItMissed) {
  TaskOutputLog log(10);
  log.Append("aaaa");
  log.Append("bbbb");
  log.Append("cccc");  // 12 > 10: the oldest chunk goes
  EXPECT_EQ(log.first_kept(), 4u);
  TaskOutputLog::Slice late = log.Read(1, 100);
  EXPECT_EQ(late.offset, 4u);
  EXPECT_EQ(late.dropped, 3u);
  EXPECT_EQ(late.data, "bbbbcccc");
  // One chunk over the bound alone stays whole.
  log.Append(std::string(20, 'd'));
  EXPECT_EQ(log.first_kept(), 12u);
  EXPECT_EQ(log.Read(12, 100).data, std::string(20, 'd'));
}

TEST(TaskOutputLogTest, ASliceCutAtItsBoundNeverSplitsAUtf8Character) {
  TaskOutputLog log(1024);
  log.Append("ab\xC3\xA9z");  // "abéz"
  TaskOutputLog::Slice first = log.Read(0, 3);
  EXPECT_EQ(first.data, "ab");  // the é's first byte waits for the next slice
  TaskOutputLog::Slice second = log.Read(2, 3);
  EXPECT_EQ(second.data, "\xC3\xA9z");
}

}  // namespace
}  // namespace batchd::core
