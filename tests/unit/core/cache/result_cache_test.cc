// ResultCache on plain steady time points: hits and misses, expiry at exactly the TTL, LRU
// eviction by bytes (a hit refreshes recency), the per-entry bound, replacement, invalidation,
// and what an observer (the journal's copy) is told of each change.
#include "core/cache/result_cache.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

CacheKey Key(uint8_t n) {
  CacheKey k;
  k.digest[0] = n;
  return k;
}

const SteadyTime t0{std::chrono::seconds(100)};

// Writes down each change as a line: "stored 1", "dropped 2", "dropped namespace a", "cleared".
class RecordingObserver final : public ResultCacheObserver {
 public:
  void Stored(const CacheEntry& entry) override {
    lines.push_back("stored " + std::to_string(entry.key.digest[0]));
  }
  void Dropped(const CacheKey& key) override {
    lines.push_back("dropped " + std::to_string(key.digest[0]));
  }
  void DroppedNamespace(absl::string_view name_space) override {
    lines.push_back("dropped namespace " + std::string(name_space));
  }
  void Cleared() override { lines.push_back("cleared"); }

  std::vector<std::string> lines;
};

class ResultCacheTest : public ::testing::Test {
 protected:
  bool Put(ResultCache& cache, uint8_t key, json::value output, SteadyTime now = t0,
           milliseconds ttl = milliseconds(1000), const char* ns = "") {
    return cache.Store(Key(key), ns, std::move(output),
                       std::make_shared<const CachedFrom>(CachedFrom{"batch-1", "t"}), now + ttl,
                       now);
  }
  // The bytes an entry of a string output of `n` characters counts.
  static size_t EntryOf(size_t n) {
    return CacheEntryBytes(json::value(std::string(n, 'x')), "", {"batch-1", "t"});
  }
};

TEST_F(ResultCacheTest, AStoredResultIsFoundWithItsOrigin) {
  ResultCache cache;
  EXPECT_EQ(cache.Find(Key(1), t0), nullptr);
  ASSERT_TRUE(Put(cache, 1, json::parse(R"({"v": 7})")));
  const CacheEntry* e = cache.Find(Key(1), t0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->output, json::parse(R"({"v": 7})"));
  EXPECT_EQ(e->origin->batch_id, "batch-1");
  EXPECT_EQ(e->origin->task_id, "t");
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST_F(ResultCacheTest, AnEntryExpiresAtExactlyItsTtl) {
  ResultCache cache;
  Put(cache, 1, json::value(1), t0, milliseconds(500));
  EXPECT_NE(cache.Find(Key(1), t0 + milliseconds(499)), nullptr);
  EXPECT_EQ(cache.Find(Key(1), t0 + milliseconds(500)), nullptr);
  EXPECT_EQ(cache.stats().expirations, 1u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST_F(ResultCacheTest, TheLeastRecentlyUsedGoFirstWhenTheBytesRunOut) {
  ResultCache cache({.max_bytes = 3 * EntryOf(10), .max_entry_bytes = EntryOf(10)});
  for (uint8_t k = 1; k <= 3; ++k) Put(cache, k, json::value(std::string(10, 'x')));
  EXPECT_EQ(cache.stats().bytes, 3 * EntryOf(10));
  ASSERT_NE(cache.Find(Key(1), t0), nullptr);  // 1 is now the most recently used
  Put(cache, 4, json::value(std::string(10, 'x')));
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.Find(Key(2), t0), nullptr);  // the coldest went
  EXPECT_NE(cache.Find(Key(1), t0), nullptr);
  EXPECT_NE(cache.Find(Key(3), t0), nullptr);
  EXPECT_NE(cache.Find(Key(4), t0), nullptr);
  EXPECT_EQ(cache.stats().entries, 3u);
}

TEST_F(ResultCacheTest, AnEntryOverTheBoundIsNotStoredAndCounted) {
  ResultCache cache({.max_bytes = 1 << 20, .max_entry_bytes = EntryOf(100)});
  EXPECT_TRUE(Put(cache, 1, json::value(std::string(100, 'x'))));
  EXPECT_FALSE(Put(cache, 2, json::value(std::string(101, 'x'))));
  EXPECT_EQ(cache.stats().too_large, 1u);
  EXPECT_EQ(cache.Find(Key(2), t0), nullptr);
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST_F(ResultCacheTest, StoringAKeyAgainReplacesItsEntry) {
  ResultCache cache;
  Put(cache, 1, json::value("old"));
  Put(cache, 1, json::value("new"), t0 + milliseconds(10));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.Find(Key(1), t0 + milliseconds(10))->output, json::value("new"));
  EXPECT_EQ(cache.stats().bytes, CacheEntryBytes(json::value("new"), "", {"batch-1", "t"}));
}

TEST_F(ResultCacheTest, InvalidationByKeyNamespaceAndAll) {
  ResultCache cache;
  Put(cache, 1, json::value(1), t0, milliseconds(1000), "a");
  Put(cache, 2, json::value(2), t0, milliseconds(1000), "a");
  Put(cache, 3, json::value(3), t0, milliseconds(1000), "b");
  Put(cache, 4, json::value(4), t0, milliseconds(1000), "b");
  EXPECT_EQ(cache.InvalidateKey(Key(4)), 1u);
  EXPECT_EQ(cache.InvalidateKey(Key(4)), 0u);
  EXPECT_EQ(cache.InvalidateNamespace("a"), 2u);
  EXPECT_EQ(cache.Find(Key(1), t0), nullptr);
  EXPECT_NE(cache.Find(Key(3), t0), nullptr);
  EXPECT_EQ(cache.InvalidateAll(), 1u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(cache.stats().invalidations, 4u);
}

TEST_F(ResultCacheTest, TheObserverIsToldOfEveryChangeInOrder) {
  // Room for entries 1 and 2 ("ns" counts 2 bytes more), not for a third.
  ResultCache cache({.max_bytes = 2 * EntryOf(1) + 2, .max_entry_bytes = EntryOf(1) + 2});
  RecordingObserver observer;
  cache.SetObserver(&observer);
  Put(cache, 1, "a");
  Put(cache, 1, "b");  // a replacement: stored again, nothing dropped
  Put(cache, 2, "c", t0, milliseconds(10), "ns");
  Put(cache, 3, "d");                        // evicts 1, the least recently used
  Put(cache, 4, "too large for one entry");  // not stored: nothing told
  EXPECT_EQ(cache.Find(Key(2), t0 + milliseconds(10)), nullptr);  // expired
  cache.InvalidateKey(Key(3));
  cache.InvalidateNamespace("ns");
  cache.InvalidateAll();
  EXPECT_THAT(observer.lines,
              ::testing::ElementsAre("stored 1", "stored 1", "stored 2", "dropped 1", "stored 3",
                                     "dropped 2", "dropped 3", "dropped namespace ns", "cleared"));
}

TEST_F(ResultCacheTest, ARestoredEntryIsNotToldAsStoredButWhatItEvictsIs) {
  ResultCache cache({.max_bytes = EntryOf(1), .max_entry_bytes = EntryOf(1)});
  RecordingObserver observer;
  cache.SetObserver(&observer);
  auto origin = std::make_shared<const CachedFrom>(CachedFrom{"batch-1", "t"});
  EXPECT_TRUE(cache.Restore(Key(1), "", "a", origin, t0 + milliseconds(5), t0));
  EXPECT_TRUE(cache.Restore(Key(2), "", "b", origin, t0 + milliseconds(5), t0));
  // Over the bounds batchd runs with now: the observer drops its copy.
  EXPECT_FALSE(cache.Restore(Key(3), "", "too large", origin, t0 + milliseconds(5), t0));
  EXPECT_THAT(observer.lines, ::testing::ElementsAre("dropped 1", "dropped 3"));
  ASSERT_NE(cache.Find(Key(2), t0), nullptr);
  EXPECT_EQ(cache.stats().stored, 0u);
}

}  // namespace
}  // namespace batchd::core
