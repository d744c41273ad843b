// Cache entries as journal records: a put carries the key's 32 bytes, the namespace, the wall
// expiry and {"batch", "task", "output"}; it decodes back to the same entry; deletions carry
// only what they name; a record that does not decode is DATA_LOSS naming its key.
#include "core/cache/cache_records.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/cache/result_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

CacheEntry Entry() {
  CacheEntry e;
  e.key.digest[0] = 0xab;
  e.key.digest[31] = 0x01;
  e.name_space = "embeddings";
  e.output = json::parse(R"({"vector": [0.5, -1], "text": "h\u00e9"})");
  e.origin = std::make_shared<const CachedFrom>(CachedFrom{"batch-7", "embed-3"});
  return e;
}

TEST(CacheRecordsTest, APutDecodesBackToTheSameEntry) {
  const WallTime expires{std::chrono::seconds(1'900'000'000)};
  const CacheRecord put = CachePutRecord(Entry(), expires);
  EXPECT_EQ(put.kind, CacheRecord::Kind::kPut);
  EXPECT_EQ(put.key.size(), 32u);
  EXPECT_EQ(put.name_space, "embeddings");
  EXPECT_EQ(put.expires_at, expires);
  absl::StatusOr<StoredCacheEntry> back = DecodeCachePut(put);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->key, Entry().key);
  EXPECT_EQ(back->name_space, "embeddings");
  EXPECT_EQ(back->output, Entry().output);
  EXPECT_EQ(back->origin.batch_id, "batch-7");
  EXPECT_EQ(back->origin.task_id, "embed-3");
  EXPECT_EQ(back->expires_at, expires);
}

TEST(CacheRecordsTest, DeletionsNameOnlyWhatTheyDrop) {
  const CacheRecord erase = CacheEraseRecord(Entry().key);
  EXPECT_EQ(erase.kind, CacheRecord::Kind::kErase);
  EXPECT_EQ(erase.key, CachePutRecord(Entry(), {}).key);
  EXPECT_TRUE(erase.entry.empty());
  const CacheRecord ns = CacheEraseNamespaceRecord("embeddings");
  EXPECT_EQ(ns.kind, CacheRecord::Kind::kEraseNamespace);
  EXPECT_EQ(ns.name_space, "embeddings");
  EXPECT_TRUE(ns.key.empty());
  EXPECT_EQ(CacheClearRecord().kind, CacheRecord::Kind::kClear);
}

TEST(CacheRecordsTest, ARecordThatDoesNotDecodeIsDataLossNamingItsKey) {
  CacheRecord bad = CachePutRecord(Entry(), {});
  bad.entry = R"({"batch": "b", "output": 1})";  // no task
  absl::StatusOr<StoredCacheEntry> decoded = DecodeCachePut(bad);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(
      std::string(decoded.status().message()),
      ::testing::StartsWith("cache entry ab" + std::string(60, '0') + "01 in the journal: not {"));
  bad.key = "short";
  EXPECT_EQ(DecodeCachePut(bad).status().message(),
            "cache entry 73686f7274 in the journal: a key of 5 bytes, not 32");
}

}  // namespace
}  // namespace batchd::core
