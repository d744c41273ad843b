// BatchTable: batches by sequence and id, the stale-attempt check, listings.
#include "core/scheduling/batch_table.h"

#include <memory>
#include <vector>

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
