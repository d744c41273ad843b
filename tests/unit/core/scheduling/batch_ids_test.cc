// BatchIdIssuer: sequences in issue order, ids of a random half and the sequence, never
// behind a recovered batch.
#include "core/scheduling/batch_ids.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::MatchesRegex;

TEST(BatchIdIssuerTest, SequencesStartAtOneAndIncrease) {
  BatchIdIssuer ids(42);
  EXPECT_EQ(ids.Next().seq, 1u);
  EXPECT_EQ(ids.Next().seq, 2u);
  EXPECT_EQ(ids.Next().seq, 3u);
}

TEST(BatchIdIssuerTest, IdIsSixteenHexDigitsEndingInTheSequence) {
  BatchIdIssuer ids(42);
  ids.Next();
  const BatchIdIssuer::Issued second = ids.Next();
  EXPECT_THAT(second.id, MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(second.id.substr(8), "00000002");
}

TEST(BatchIdIssuerTest, TheRandomHalfComesFromTheSeed) {
  BatchIdIssuer a(7);
  BatchIdIssuer b(7);
  BatchIdIssuer c(8);
  const std::string from_a = a.Next().id;
  EXPECT_EQ(from_a, b.Next().id);
  const std::string from_c = c.Next().id;
  EXPECT_NE(from_a.substr(0, 8), from_c.substr(0, 8));
  EXPECT_EQ(from_a.substr(8), from_c.substr(8));
}

TEST(BatchIdIssuerTest, RestoredSequencesAreNeverIssuedAgain) {
  BatchIdIssuer ids(1);
  ids.Restored(41);
  const BatchIdIssuer::Issued next = ids.Next();
  EXPECT_EQ(next.seq, 42u);
  EXPECT_EQ(next.id.substr(8), "0000002a");
  ids.Restored(5);  // an older batch: nothing moves back
  EXPECT_EQ(ids.Next().seq, 43u);
}

TEST(BatchIdIssuerTest, ConcurrentIssuesAreUnique) {
  BatchIdIssuer ids;
  constexpr int kThreads = 4;
  constexpr int kEach = 1000;
  std::vector<std::vector<BatchIdIssuer::Issued>> issued(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < kEach; ++n) issued[i].push_back(ids.Next());
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> seqs;
  std::set<std::string> id_set;
  for (const auto& list : issued) {
    for (const BatchIdIssuer::Issued& i : list) {
      seqs.insert(i.seq);
      id_set.insert(i.id);
    }
  }
  EXPECT_EQ(seqs.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(id_set.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), static_cast<uint64_t>(kThreads * kEach));
}

}  // namespace
}  // namespace batchd::core
