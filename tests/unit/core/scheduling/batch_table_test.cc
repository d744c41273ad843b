// BatchTable: batches by sequence and id, the stale-attempt check, listings.
#include "core/scheduling/batch_table.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using testing::ManualTask;

std::vector<std::string> Ids(const std::vector<BatchProgress>& list) {
  std::vector<std::string> ids;
  for (const BatchProgress& p : list) ids.push_back(p.batch_id);
  return ids;
}

class BatchTableTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
  BatchTable table_;
};

TEST_F(BatchTableTest, FindsByIdAndBySequence) {
  auto b1 = batches_.Make(1);
  auto b2 = batches_.Make(2);
  table_.Add(b2);
  table_.Add(b1);
  EXPECT_EQ(table_.size(), 2u);
  EXPECT_EQ(table_.Find("batch-1"), b1);
  EXPECT_EQ(table_.Find(uint64_t{2}), b2);
  EXPECT_EQ(table_.Find("batch-3"), nullptr);
  EXPECT_EQ(table_.Find(uint64_t{3}), nullptr);
  // Oldest first whatever the order they were added in.
  std::vector<uint64_t> seqs;
  for (const auto& [seq, batch] : table_.by_seq()) seqs.push_back(batch->seq());
  EXPECT_THAT(seqs, ElementsAre(1u, 2u));
}

TEST_F(BatchTableTest, RemoveDropsTheBatchByBothKeys) {
  auto b1 = batches_.Make(1);
  table_.Add(b1);
  table_.Remove(*b1);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.Find("batch-1"), nullptr);
  EXPECT_EQ(table_.Find(uint64_t{1}), nullptr);
  table_.Remove(*b1);  // not listed: nothing
  EXPECT_EQ(table_.size(), 0u);
}

TEST_F(BatchTableTest, CurrentFindsOnlyTheTaskStillInThatStateInThatAttempt) {
  auto batch = batches_.Make(1, {ManualTask("a"), ManualTask("b")});
  table_.Add(batch);
  const uint32_t t = batch->PopReady();
  batch->OnAttemptStarted(t, clock_.SteadyNow());
  const AttemptToken token = batch->attempt(t);
  EXPECT_EQ(token.batch_seq, 1u);
  EXPECT_EQ(token.generation, 1u);

  EXPECT_EQ(table_.Current(token, TaskState::kRunning), batch);
  EXPECT_EQ(table_.Current(token, TaskState::kPending), nullptr);      // other state
  EXPECT_EQ(table_.Current({1, t, 0}, TaskState::kRunning), nullptr);  // an earlier attempt
  EXPECT_EQ(table_.Current({1, 2, 1}, TaskState::kRunning), nullptr);  // no such task
  EXPECT_EQ(table_.Current({9, t, 1}, TaskState::kRunning), nullptr);  // no such batch

  batch->OnAttemptEnded(t);
  batch->Requeue(t, clock_.SteadyNow());  // lost with its worker: this attempt is stale
  EXPECT_EQ(table_.Current(token, TaskState::kRunning), nullptr);
  EXPECT_EQ(table_.Current(token, TaskState::kPending), batch);  // same generation, new state
}

TEST_F(BatchTableTest, ListIsNewestFirstUpToTheLimit) {
  for (uint64_t seq = 1; seq <= 4; ++seq) table_.Add(batches_.Make(seq));
  EXPECT_THAT(Ids(table_.List(2)), ElementsAre("batch-4", "batch-3"));
  EXPECT_THAT(Ids(table_.List(0)), ElementsAre("batch-4", "batch-3", "batch-2", "batch-1"));
  EXPECT_THAT(Ids(table_.List(10)), ElementsAre("batch-4", "batch-3", "batch-2", "batch-1"));
}

// A batch with labels (one manual task "a").
std::shared_ptr<Batch> MakeLabelled(testing::TestBatches& batches, const testing::FakeClock& clock,
                                    uint64_t seq, std::map<std::string, std::string> labels) {
  BatchSpec spec = testing::TestBatches::Spec({ManualTask("a")});
  spec.labels = std::move(labels);
  Batch::Identity identity{absl::StrCat("batch-", seq), seq, clock.SteadyNow(), clock.WallNow()};
  auto created = Batch::Create(std::move(spec), batches.registry(), std::move(identity));
  EXPECT_TRUE(created.ok()) << created.status();
  return *std::move(created);
}

BatchListQuery Paged(uint32_t page_size, std::optional<uint64_t> before = {},
                     std::string selector = "") {
  BatchListQuery q;
  q.page_size = page_size;
  q.before_seq = before;
  q.selector = LabelSelector::Parse(selector).value();
  return q;
}

TEST_F(BatchTableTest, QueryFiltersByStateAndLabelsAndCountsEveryMatch) {
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    table_.Add(MakeLabelled(batches_, clock_, seq,
                            {{"env", seq % 2 == 0 ? "prod" : "dev"}, {"n", absl::StrCat(seq)}}));
  }
  batches_.RunToEnd(*table_.Find(uint64_t{2}));
  batches_.RunToEnd(*table_.Find(uint64_t{5}));

  BatchListQuery prod;
  prod.selector = LabelSelector::Parse("env=prod").value();
  BatchPage page = table_.List(prod);
  EXPECT_THAT(Ids(page.batches), ElementsAre("batch-6", "batch-4", "batch-2"));
  EXPECT_EQ(page.total_size, 3u);
  EXPECT_FALSE(page.next_before_seq.has_value());  // unpaged: never a next page

  BatchListQuery done;
  done.states = {BatchState::kSucceeded};
  EXPECT_THAT(Ids(table_.List(done).batches), ElementsAre("batch-5", "batch-2"));

  BatchListQuery both = prod;
  both.states = {BatchState::kSucceeded, BatchState::kFailed};
  EXPECT_THAT(Ids(table_.List(both).batches), ElementsAre("batch-2"));

  // Unpaged with a limit: the newest `limit` matches, but total_size counts them all.
  prod.limit = 2;
  page = table_.List(prod);
  EXPECT_THAT(Ids(page.batches), ElementsAre("batch-6", "batch-4"));
  EXPECT_EQ(page.total_size, 3u);
}

TEST_F(BatchTableTest, PagesFollowCreationOrderWhileBatchesComeAndGo) {
  for (uint64_t seq = 1; seq <= 5; ++seq) table_.Add(batches_.Make(seq));
  BatchPage first = table_.List(Paged(2));
  EXPECT_THAT(Ids(first.batches), ElementsAre("batch-5", "batch-4"));
  EXPECT_EQ(first.total_size, 5u);
  ASSERT_EQ(first.next_before_seq, std::optional<uint64_t>(4));

  // Between pages a batch is added (newer: it belongs before page one) and one retires.
  table_.Add(batches_.Make(6));
  table_.Remove(*table_.Find(uint64_t{3}));
  BatchPage second = table_.List(Paged(2, first.next_before_seq));
  EXPECT_THAT(Ids(second.batches), ElementsAre("batch-2", "batch-1"));
  EXPECT_EQ(second.total_size, 5u);                  // 6, 5, 4, 2, 1
  EXPECT_FALSE(second.next_before_seq.has_value());  // nothing older is left
}

TEST_F(BatchTableTest, PagesOfAFilterSkipBatchesItDoesNotSelect) {
  for (uint64_t seq = 1; seq <= 7; ++seq) {
    table_.Add(MakeLabelled(batches_, clock_, seq, {{"keep", seq % 3 == 0 ? "no" : "yes"}}));
  }
  std::vector<std::string> all;
  std::optional<uint64_t> cursor;
  int pages = 0;
  do {
    BatchPage page = table_.List(Paged(2, cursor, "keep=yes"));
    EXPECT_EQ(page.total_size, 5u);
    for (const BatchProgress& p : page.batches) all.push_back(p.batch_id);
    cursor = page.next_before_seq;
    ++pages;
  } while (cursor.has_value() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(all, ElementsAre("batch-7", "batch-5", "batch-4", "batch-2", "batch-1"));
}

TEST_F(BatchTableTest, AnExactlyFullLastPageHasNoNextPage) {
  for (uint64_t seq = 1; seq <= 4; ++seq) table_.Add(batches_.Make(seq));
  BatchPage page = table_.List(Paged(2, uint64_t{3}));
  EXPECT_THAT(Ids(page.batches), ElementsAre("batch-2", "batch-1"));
  EXPECT_FALSE(page.next_before_seq.has_value());
}

// A figure, not a bound: a page of 100 out of 10,000 batches matched by a selector.
TEST_F(BatchTableTest, APageOfTenThousandBatchesSnapshotsOnlyThePage) {
  for (uint64_t seq = 1; seq <= 10000; ++seq) {
    table_.Add(MakeLabelled(batches_, clock_, seq, {{"env", seq % 2 == 0 ? "prod" : "dev"}}));
  }
  const auto start = std::chrono::steady_clock::now();
  BatchPage page = table_.List(Paged(100, uint64_t{5001}, "env=prod"));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(page.batches.size(), 100u);
  EXPECT_EQ(page.batches.front().batch_id, "batch-5000");
  EXPECT_EQ(page.total_size, 5000u);
  std::printf("ListBatches page of 100 of 10000 (selector, token): %.2f ms\n", ms);
}

TEST_F(BatchTableTest, UnfinishedListsOnlyBatchesNotFinishedOldestFirst) {
  auto b1 = batches_.Make(1);
  auto b2 = batches_.Make(2);
  auto b3 = batches_.Make(3);
  table_.Add(b3);
  table_.Add(b2);
  table_.Add(b1);
  batches_.RunToEnd(*b2);
  std::vector<uint64_t> seqs;
  for (const auto& b : table_.Unfinished()) seqs.push_back(b->seq());
  EXPECT_THAT(seqs, ElementsAre(1u, 3u));
}

}  // namespace
}  // namespace batchd::core
