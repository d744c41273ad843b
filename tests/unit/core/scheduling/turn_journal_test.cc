// TurnJournal: a turn's events buffered per batch, appended as one chunk per batch.
#include "core/scheduling/turn_journal.h"

#include <vector>

#include "core/journal/journal_events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_journal.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::FieldsAre;

class TurnJournalTest : public ::testing::Test {
 protected:
  TurnJournalTest() {
    journal_.SetDurableListener([this](std::vector<DurableMark> marks) {
      for (const DurableMark& m : marks) marks_.push_back(m);
    });
  }
  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
  testing::FakeJournal journal_;
  std::vector<DurableMark> marks_;
};

TEST_F(TurnJournalTest, WithoutAJournalNothingIsRecorded) {
  TurnJournal turn(nullptr);
  auto batch = batches_.Make(1);
  EXPECT_EQ(turn.Events(batch), nullptr);
  EXPECT_EQ(turn.pending(), 0u);
  EXPECT_FALSE(batch->in_journal_list);
  turn.Flush();
}

TEST_F(TurnJournalTest, EventsAreTheBatchsBufferAndEachBatchIsListedOnce) {
  TurnJournal turn(&journal_);
  auto b1 = batches_.Make(1);
  auto b2 = batches_.Make(2);
  std::string* events = turn.Events(b1);
  EXPECT_EQ(events, &b1->journal_events());
  EncodeStarted(*events, 0, 0);
  EXPECT_EQ(turn.Events(b1), events);
  turn.Events(b2);
  EXPECT_EQ(turn.pending(), 2u);
  EXPECT_TRUE(b1->in_journal_list);
  EXPECT_EQ(journal_.pending_chunks(), 0u);  // nothing appended before the flush
}

TEST_F(TurnJournalTest, FlushAppendsOneChunkPerBatchInTheOrderTheyWereTouched) {
  TurnJournal turn(&journal_);
  auto b1 = batches_.Make(1, {testing::ManualTask("a"), testing::ManualTask("b")});
  auto b2 = batches_.Make(2);
  batches_.RunToEnd(*b2);
  EncodeFinished(*turn.Events(b2), clock_.WallNow());
  batches_.RunNext(*b1);
  EncodeStarted(*turn.Events(b1), 0, 0);
  EncodeRequeued(*turn.Events(b2), 0);

  turn.Flush();
  EXPECT_EQ(turn.pending(), 0u);
  EXPECT_EQ(journal_.pending_chunks(), 2u);
  EXPECT_FALSE(b1->in_journal_list);
  EXPECT_TRUE(b1->journal_events().empty());
  EXPECT_TRUE(b2->journal_events().empty());

  // What the chunks carried: the batch, the results readable once durable, whether it ended.
  journal_.Commit();
  // Each batch's chunks are numbered from 1.
  EXPECT_THAT(marks_, ElementsAre(FieldsAre(2u, 1u, true, 1u), FieldsAre(1u, 1u, false, 1u)));
}

TEST_F(TurnJournalTest, FlushWithNothingBufferedAppendsNothing) {
  TurnJournal turn(&journal_);
  turn.Flush();
  EXPECT_EQ(journal_.pending_chunks(), 0u);
  auto batch = batches_.Make(1);
  turn.Events(batch);
  turn.Flush();
  turn.Flush();  // the second turn has nothing
  EXPECT_EQ(journal_.pending_chunks(), 1u);
}

TEST_F(TurnJournalTest, StopFlushesWhatIsBufferedThenRecordsNothing) {
  TurnJournal turn(&journal_);
  auto batch = batches_.Make(1);
  EncodeStarted(*turn.Events(batch), 0, 0);
  turn.Stop();
  EXPECT_EQ(journal_.pending_chunks(), 1u);
  EXPECT_EQ(turn.Events(batch), nullptr);
  EXPECT_EQ(turn.pending(), 0u);
  turn.Flush();
  EXPECT_EQ(journal_.pending_chunks(), 1u);
}

TEST_F(TurnJournalTest, StoredChunksReadBackAsTheEncodedEvents) {
  TurnJournal turn(&journal_);
  auto batch = batches_.Make(1);
  journal_.AppendBatch({1, batch->id(), "", batch->created_wall(), "content"}, [](absl::Status) {});
  EncodeStarted(*turn.Events(batch), 0, 2);
  EncodeRetryWait(*turn.Events(batch), 0, 3, clock_.WallNow());
  turn.Flush();
  journal_.Commit();

  ASSERT_EQ(journal_.Stored().size(), 1u);
  absl::StatusOr<std::vector<JournalEvent>> events =
      DecodeJournalEvents(journal_.Stored()[0].events);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, JournalEventKind::kStarted);
  EXPECT_EQ((*events)[0].retries, 2u);
  EXPECT_EQ((*events)[1].kind, JournalEventKind::kRetryWait);
  EXPECT_EQ((*events)[1].retries, 3u);
}

TEST_F(TurnJournalTest, AResultIsHandedOverAndStoredBetweenTheEventsAroundIt) {
  TurnJournal turn(&journal_);
  auto batch = batches_.Make(1);
  batches_.RunToEnd(*batch);
  journal_.AppendBatch({1, batch->id(), "", batch->created_wall(), "content"}, [](absl::Status) {});
  EncodeStarted(*turn.Events(batch), 0, 0);
  turn.Result(batch, *batch->result(0));
  EXPECT_EQ(batch->journal_results().size(), 1u);  // not encoded on the caller's thread
  EncodeFinished(*turn.Events(batch), clock_.WallNow());
  turn.Flush();
  EXPECT_TRUE(batch->journal_results().empty());
  journal_.Commit();

  ASSERT_EQ(journal_.Stored().size(), 1u);
  absl::StatusOr<std::vector<JournalEvent>> events =
      DecodeJournalEvents(journal_.Stored()[0].events);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].kind, JournalEventKind::kStarted);
  EXPECT_EQ((*events)[1].kind, JournalEventKind::kResult);
  EXPECT_EQ((*events)[1].task, 0u);
  EXPECT_EQ((*events)[1].state, batch->result(0)->state);
  EXPECT_EQ((*events)[2].kind, JournalEventKind::kFinished);
}

TEST_F(TurnJournalTest, WithoutAJournalAResultIsNotKept) {
  TurnJournal turn(nullptr);
  auto batch = batches_.Make(1);
  batches_.RunToEnd(*batch);
  turn.Result(batch, *batch->result(0));
  EXPECT_TRUE(batch->journal_results().empty());
  EXPECT_FALSE(batch->in_journal_list);
}

}  // namespace
}  // namespace batchd::core
