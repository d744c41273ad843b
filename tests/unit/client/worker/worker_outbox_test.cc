// Tests for the per-connection bookkeeping of WorkerSession: in-flight assignments, cancel
// acks, batching of outcomes, closing.
#include "client/worker/worker_outbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "absl/time/clock.h"

namespace batchd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using TakeResult = WorkerOutbox::TakeResult;
using CancelAction = WorkerOutbox::CancelAction;

v1::TaskOutcome Success() {
  v1::TaskOutcome outcome;
  outcome.set_success(true);
  return outcome;
}

std::vector<std::string> OutcomeIds(const v1::ConnectRequest& request) {
  std::vector<std::string> ids;
  for (const v1::TaskOutcome& outcome : request.outcomes()) ids.push_back(outcome.assignment_id());
  return ids;
}

// Take without waiting.
v1::ConnectRequest TakeNow(WorkerOutbox& outbox, TakeResult expected = TakeResult::kOpen) {
  v1::ConnectRequest request;
  EXPECT_EQ(outbox.Take(absl::InfinitePast(), request), expected);
  return request;
}

TEST(WorkerOutboxTest, BatchesEveryQueuedOutcomeIntoOneRequest) {
  WorkerOutbox outbox;
  for (const char* id : {"a1", "a2", "a3"}) ASSERT_TRUE(outbox.Track(id));
  EXPECT_TRUE(outbox.Complete("a2", Success()));
  EXPECT_TRUE(outbox.Complete("a1", Success()));
  const v1::ConnectRequest request = TakeNow(outbox);
  EXPECT_THAT(OutcomeIds(request), ElementsAre("a2", "a1"));
  EXPECT_TRUE(request.outcomes(0).success());
  EXPECT_EQ(outbox.in_flight(), 1u);
  EXPECT_EQ(TakeNow(outbox).outcomes_size(), 0);
}

TEST(WorkerOutboxTest, SendsPartialOutputOfAssignmentsInFlightWithTheirOutcomes) {
  WorkerOutbox outbox;
  ASSERT_TRUE(outbox.Track("a1"));
  EXPECT_TRUE(outbox.Output("a1", "tok"));
  EXPECT_TRUE(outbox.Output("a1", "ens"));
  EXPECT_FALSE(outbox.Output("never-assigned", "x"));
  EXPECT_TRUE(outbox.Complete("a1", Success()));
  EXPECT_FALSE(outbox.Output("a1", "late"));  // replied: no longer in flight
  const v1::ConnectRequest request = TakeNow(outbox);
  ASSERT_EQ(request.outputs_size(), 2);
  EXPECT_EQ(request.outputs(0).assignment_id(), "a1");
  EXPECT_EQ(request.outputs(0).data() + request.outputs(1).data(), "tokens");
  EXPECT_THAT(OutcomeIds(request), ElementsAre("a1"));
}

TEST(WorkerOutboxTest, IgnoresDuplicatesAndSecondReplies) {
  WorkerOutbox outbox;
  ASSERT_TRUE(outbox.Track("a1"));
  EXPECT_FALSE(outbox.Track("a1"));
  EXPECT_TRUE(outbox.Complete("a1", Success()));
  EXPECT_FALSE(outbox.Complete("a1", Success()));
  EXPECT_FALSE(outbox.Complete("never-assigned", Success()));
  EXPECT_THAT(OutcomeIds(TakeNow(outbox)), ElementsAre("a1"));
}

TEST(WorkerOutboxTest, AcksCancelOfRunningAssignmentAfterItsReply) {
  WorkerOutbox outbox;
  ASSERT_TRUE(outbox.Track("a1"));
  EXPECT_EQ(outbox.RequestCancel("a1"), CancelAction::kForwardToHandler);
  EXPECT_EQ(outbox.RequestCancel("a1"), CancelAction::kIgnored);  // already forwarded
  EXPECT_EQ(TakeNow(outbox).cancel_acks_size(), 0);
  v1::TaskOutcome cancelled;
  cancelled.set_error("cancelled");
  EXPECT_TRUE(outbox.Complete("a1", cancelled));
  const v1::ConnectRequest request = TakeNow(outbox);
  EXPECT_THAT(OutcomeIds(request), ElementsAre("a1"));
  EXPECT_THAT(request.cancel_acks(), ElementsAre("a1"));
}

TEST(WorkerOutboxTest, AcksCancelOfAnsweredAssignmentAtOnce) {
  WorkerOutbox outbox;
  ASSERT_TRUE(outbox.Track("a1"));
  ASSERT_TRUE(outbox.Complete("a1", Success()));
  EXPECT_EQ(outbox.RequestCancel("a1"), CancelAction::kAcked);
  EXPECT_EQ(outbox.RequestCancel("unknown"), CancelAction::kAcked);
  const v1::ConnectRequest request = TakeNow(outbox);
  EXPECT_THAT(OutcomeIds(request), ElementsAre("a1"));
  EXPECT_THAT(request.cancel_acks(), ElementsAre("a1", "unknown"));
}

TEST(WorkerOutboxTest, SplitsOutcomesBeyondTheBatchLimitButNeverAnOutcome) {
  WorkerOutbox outbox(/*max_batch_bytes=*/250);
  for (const char* id : {"a1", "a2", "a3"}) {
    ASSERT_TRUE(outbox.Track(id));
    v1::TaskOutcome outcome = Success();
    outcome.mutable_output()->set_string_value(std::string(100, 'x'));  // ~110 bytes each
    ASSERT_TRUE(outbox.Complete(id, outcome));
  }
  EXPECT_THAT(OutcomeIds(TakeNow(outbox)), ElementsAre("a1", "a2"));
  EXPECT_THAT(OutcomeIds(TakeNow(outbox)), ElementsAre("a3"));

  WorkerOutbox tiny(/*max_batch_bytes=*/1);
  ASSERT_TRUE(tiny.Track("big"));
  ASSERT_TRUE(tiny.Complete("big", Success()));
  EXPECT_THAT(OutcomeIds(TakeNow(tiny)), ElementsAre("big"));
}

TEST(WorkerOutboxTest, TakeReturnsAtTheDeadlineWithNothingQueued) {
  WorkerOutbox outbox;
  v1::ConnectRequest request;
  EXPECT_EQ(outbox.Take(absl::Now(), request), TakeResult::kOpen);
  EXPECT_EQ(request.ByteSizeLong(), 0u);
}

TEST(WorkerOutboxTest, TakeWakesWhenAReplyArrives) {
  WorkerOutbox outbox;
  ASSERT_TRUE(outbox.Track("a1"));
  std::thread replier([&outbox] { outbox.Complete("a1", Success()); });
  v1::ConnectRequest request;
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), request), TakeResult::kOpen);
  replier.join();
  EXPECT_THAT(OutcomeIds(request), ElementsAre("a1"));
}

TEST(WorkerOutboxTest, RequestCloseFlushesWhatIsQueuedAndRefusesNewWork) {
  WorkerOutbox outbox;
  ASSERT_TRUE(outbox.Track("a1"));
  ASSERT_TRUE(outbox.Track("a2"));
  ASSERT_TRUE(outbox.Complete("a1", Success()));
  outbox.RequestClose();
  EXPECT_TRUE(outbox.close_requested());
  EXPECT_FALSE(outbox.Track("a3"));
  EXPECT_THAT(OutcomeIds(TakeNow(outbox, TakeResult::kFlushed)), ElementsAre("a1"));
  // Replies still reach the daemon until the stream has ended.
  ASSERT_TRUE(outbox.Complete("a2", Success()));
  EXPECT_THAT(OutcomeIds(TakeNow(outbox, TakeResult::kFlushed)), ElementsAre("a2"));
}

TEST(WorkerOutboxTest, CloseHandsBackUnfinishedWorkAndDropsLaterReplies) {
  WorkerOutbox outbox;
  for (const char* id : {"a1", "a2", "a3"}) ASSERT_TRUE(outbox.Track(id));
  ASSERT_TRUE(outbox.Complete("a1", Success()));
  ASSERT_EQ(outbox.RequestCancel("a2"), CancelAction::kForwardToHandler);
  EXPECT_FALSE(outbox.AwaitClosed(absl::ZeroDuration()));
  // a2's cancellation was already forwarded: only a3 is left to stop.
  EXPECT_THAT(outbox.Close(), UnorderedElementsAre("a3"));
  EXPECT_TRUE(outbox.AwaitClosed(absl::ZeroDuration()));
  EXPECT_FALSE(outbox.Complete("a3", Success()));
  EXPECT_EQ(outbox.RequestCancel("a3"), CancelAction::kIgnored);
  EXPECT_FALSE(outbox.Track("a4"));
  v1::ConnectRequest request;
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), request), TakeResult::kClosed);
  EXPECT_THAT(OutcomeIds(request), IsEmpty());
  EXPECT_EQ(outbox.in_flight(), 0u);
}

}  // namespace
}  // namespace batchd::client
