#include "server/rpc/result_packer.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/convert/result_convert.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Results t<first>..t<first+n-1>, each succeeded with a string output of `output_bytes`.
struct ResultLog {
  ResultLog(int first, int n, size_t output_bytes) {
    for (int i = 0; i < n; ++i) ids.push_back("t" + std::to_string(first + i));
    results.resize(n);
    for (int i = 0; i < n; ++i) {
      results[i].task_id = &ids[i];
      results[i].state = core::TaskState::kSucceeded;
      results[i].output = boost::json::string(std::string(output_bytes, 'x'));
    }
  }
  // The whole log as one chunk ending at `last_sequence`.
  core::ResultChunk Chunk(uint64_t last_sequence) const {
    core::ResultChunk chunk;
    for (const core::TaskResult& r : results) chunk.results.push_back(&r);
    chunk.last_sequence = last_sequence;
    return chunk;
  }
  size_t OneResultBytes() const {
    v1::TaskResult proto;
    TaskResultToProto(results[0], &proto);
    return FramedFieldBytes(proto.ByteSizeLong());
  }

  std::vector<std::string> ids;  // reserved up front: results point into it
  std::vector<core::TaskResult> results;
};

struct Message {
  std::vector<std::string> ids;
  uint64_t sequence = 0;
  size_t bytes = 0;
};

std::vector<Message> PackAll(ResultPacker& packer) {
  std::vector<Message> out;
  v1::StreamResultsResponse response;
  while (!packer.done()) {
    response.Clear();
    packer.PackNext(&response);
    Message m;
    for (const v1::TaskResult& r : response.results()) m.ids.push_back(r.task_id());
    m.sequence = response.sequence();
    m.bytes = response.ByteSizeLong();
    out.push_back(std::move(m));
    if (out.size() > 10000) break;  // a packer that never finishes fails below, not forever
  }
  return out;
}

TEST(ResultPackerTest, SmallResultsGoTogetherInOneMessage) {
  ResultLog log(1, 5, 10);
  ResultPacker packer;
  packer.Reset(log.Chunk(/*last_sequence=*/5));
  std::vector<Message> messages = PackAll(packer);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_THAT(messages[0].ids, ElementsAre("t1", "t2", "t3", "t4", "t5"));
  EXPECT_EQ(messages[0].sequence, 5u);
}

TEST(ResultPackerTest, SplitsByBytesKeepingOrderAndSequences) {
  ResultLog log(11, 10, 1000);
  const size_t one = log.OneResultBytes();
  // Room for three results and the sequence, not four.
  ResultPacker packer(3 * one + 11);
  packer.Reset(log.Chunk(/*last_sequence=*/20));  // results 11..20
  std::vector<Message> messages = PackAll(packer);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_THAT(messages[0].ids, ElementsAre("t11", "t12", "t13"));
  EXPECT_THAT(messages[1].ids, ElementsAre("t14", "t15", "t16"));
  EXPECT_THAT(messages[2].ids, ElementsAre("t17", "t18", "t19"));
  EXPECT_THAT(messages[3].ids, ElementsAre("t20"));
  std::vector<uint64_t> sequences;
  for (const Message& m : messages) {
    sequences.push_back(m.sequence);
    EXPECT_LE(m.bytes, 3 * one + 11);
  }
  EXPECT_THAT(sequences, ElementsAre(13u, 16u, 19u, 20u));
}

TEST(ResultPackerTest, ResultOverTheBoundGoesAlone) {
  ResultLog log(1, 3, 5000);
  ResultPacker packer(/*max_message_bytes=*/1000);
  packer.Reset(log.Chunk(3));
  std::vector<Message> messages = PackAll(packer);
  ASSERT_EQ(messages.size(), 3u);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_THAT(messages[i].ids, ElementsAre("t" + std::to_string(i + 1)));
    EXPECT_EQ(messages[i].sequence, i + 1);
    EXPECT_GT(messages[i].bytes, 5000u);
  }
}

TEST(ResultPackerTest, DefaultBoundIsOneMebibyteOfSerializedMessage) {
  // The case: 2,000 results of ~5 KB in one 1,024-result chunk would be 5 MB.
  ResultLog log(1, 1024, 5000);
  ResultPacker packer;
  packer.Reset(log.Chunk(1024));
  std::vector<Message> messages = PackAll(packer);
  std::vector<std::string> ids;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    EXPECT_LE(m.bytes, kMaxStreamMessageBytes);
    if (i + 1 < messages.size()) {
      EXPECT_GT(m.bytes, kMaxStreamMessageBytes - 2 * log.OneResultBytes()) << "full: " << i;
    }
    ids.insert(ids.end(), m.ids.begin(), m.ids.end());
  }
  EXPECT_THAT(ids, ElementsAreArray(log.ids));
  EXPECT_EQ(messages.back().sequence, 1024u);
  EXPECT_EQ(messages.size(), 5u);  // 1024 * ~5 KB / 1 MiB, rounded up
}

TEST(ResultPackerTest, ResetDropsWhatThePreviousChunkHadLeft) {
  ResultLog first(1, 3, 5000);
  ResultLog second(4, 1, 10);
  ResultPacker packer(/*max_message_bytes=*/1000);
  packer.Reset(first.Chunk(3));
  v1::StreamResultsResponse response;
  packer.PackNext(&response);  // t1; t2 was converted and carried
  EXPECT_FALSE(packer.done());
  packer.Reset(second.Chunk(4));
  std::vector<Message> messages = PackAll(packer);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_THAT(messages[0].ids, ElementsAre("t4"));
  EXPECT_EQ(messages[0].sequence, 4u);
}

TEST(ResultPackerTest, EmptyChunkIsDone) {
  ResultPacker packer;
  EXPECT_TRUE(packer.done());
  packer.Reset(core::ResultChunk{});
  EXPECT_TRUE(packer.done());
}

}  // namespace
}  // namespace batchd::server
