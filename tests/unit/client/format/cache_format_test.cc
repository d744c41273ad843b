// `batchctl cache stats`: one aligned line per counter, bytes in binary units with the share of
// the maximum, lookups with the hit ratio; "-" for a ratio of nothing.
#include "client/format/cache_format.h"

#include "gtest/gtest.h"

namespace batchd::client {
namespace {

TEST(CacheFormatTest, EveryCounterOnItsOwnLine) {
  batchd::v1::CacheStats stats;
  stats.set_entries(12);
  stats.set_bytes(3 * 1024 * 1024 + 512 * 1024);
  stats.set_max_bytes(256ull << 20);
  stats.set_hits(90);
  stats.set_misses(10);
  stats.set_single_flight_joins(7);
  stats.set_flights(1);
  stats.set_stored(12);
  stats.set_too_large(2);
  stats.set_evictions(3);
  stats.set_expirations(4);
  stats.set_invalidations(5);
  EXPECT_EQ(FormatCacheStats(stats),
            "entries              12\n"
            "bytes                3.5 MiB of 256.0 MiB (1.4%)\n"
            "lookups              100: 90 hits (90.0%), 10 misses\n"
            "single-flight joins  7\n"
            "keys in flight       1\n"
            "stored               12\n"
            "too large            2\n"
            "evictions            3\n"
            "expirations          4\n"
            "invalidations        5\n");
}

TEST(CacheFormatTest, AnEmptyCacheHasNoRatio) {
  batchd::v1::CacheStats stats;
  stats.set_max_bytes(1000);
  const std::string text = FormatCacheStats(stats);
  EXPECT_NE(text.find("bytes                0 B of 1000 B (0.0%)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lookups              0: 0 hits (-), 0 misses\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace batchd::client
