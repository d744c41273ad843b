#include "server/rpc/connect_response_queue.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

core::WorkerAssignment Assignment(const std::string& id, size_t input_bytes) {
  core::WorkerAssignment a;
  a.assignment_id = id;
  a.batch_id = "b";
  a.task_id = id;
  a.executor = "work";
  a.input = boost::json::string(std::string(input_bytes, 'x'));
  return a;
}

// What a worker reads: per message, its assignment ids and cancel ids, and its size.
struct Read {
  bool registered = false;
  std::vector<std::string> assignments;
  std::vector<std::string> cancels;
  size_t bytes = 0;
};

std::vector<Read> Drain(ConnectResponseQueue& queue) {
  std::vector<Read> out;
  v1::ConnectResponse message;
  while (!queue.empty()) {
    queue.PopFront(&message);
    Read r;
    r.registered = message.has_registered();
    for (const v1::TaskAssignment& a : message.assignments()) {
      r.assignments.push_back(a.assignment_id());
    }
    for (const v1::CancelAssignment& c : message.cancels()) r.cancels.push_back(c.assignment_id());
    r.bytes = message.ByteSizeLong();
    out.push_back(std::move(r));
  }
  return out;
}

TEST(ConnectResponseQueueTest, SmallSendsShareOneMessage) {
  ConnectResponseQueue queue;
  queue.AddRegistered("w#1", 5000);
  queue.AddAssignment(Assignment("a1", 10));
  queue.AddAssignment(Assignment("a2", 10));
  queue.AddCancel("a1", "cancelled by client");
  std::vector<Read> reads = Drain(queue);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_TRUE(reads[0].registered);
  EXPECT_THAT(reads[0].assignments, ElementsAre("a1", "a2"));
  EXPECT_THAT(reads[0].cancels, ElementsAre("a1"));
}

TEST(ConnectResponseQueueTest, BigAssignmentsAreSpreadOverMessagesInOrder) {
  // Eight assignments of ~300 KB: three fit in 1 MiB, four do not.
  ConnectResponseQueue queue;
  for (int i = 1; i <= 8; ++i) queue.AddAssignment(Assignment("a" + std::to_string(i), 300000));
  queue.AddCancel("a8", "timeout");
  std::vector<Read> reads = Drain(queue);
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_THAT(reads[0].assignments, ElementsAre("a1", "a2", "a3"));
  EXPECT_THAT(reads[1].assignments, ElementsAre("a4", "a5", "a6"));
  EXPECT_THAT(reads[2].assignments, ElementsAre("a7", "a8"));
  EXPECT_THAT(reads[0].cancels, IsEmpty());
  EXPECT_THAT(reads[2].cancels, ElementsAre("a8")) << "a cancel never overtakes its assignment";
  for (const Read& r : reads) EXPECT_LE(r.bytes, kMaxStreamMessageBytes);
}

TEST(ConnectResponseQueueTest, AssignmentOverTheBoundGoesAlone) {
  ConnectResponseQueue queue(/*max_message_bytes=*/1000);
  queue.AddRegistered("w#1", 5000);
  queue.AddAssignment(Assignment("big", 5000));
  queue.AddAssignment(Assignment("small", 10));
  queue.AddAssignment(Assignment("huge", 8000));
  std::vector<Read> reads = Drain(queue);
  ASSERT_EQ(reads.size(), 4u);
  EXPECT_TRUE(reads[0].registered);
  EXPECT_THAT(reads[0].assignments, IsEmpty());
  EXPECT_FALSE(reads[1].registered);
  EXPECT_THAT(reads[1].assignments, ElementsAre("big"));
  EXPECT_GT(reads[1].bytes, 5000u);
  EXPECT_THAT(reads[2].assignments, ElementsAre("small"));
  EXPECT_THAT(reads[3].assignments, ElementsAre("huge"));
}

TEST(ConnectResponseQueueTest, EndMessageStartsTheNextOne) {
  ConnectResponseQueue queue;
  queue.EndMessage();  // nothing to end yet
  queue.AddRegistered("w#1", 5000);
  queue.EndMessage();
  queue.AddAssignment(Assignment("a1", 10));
  queue.AddCancel("a1", "cancelled by client");
  std::vector<Read> reads = Drain(queue);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_TRUE(reads[0].registered);
  EXPECT_THAT(reads[0].assignments, IsEmpty());
  EXPECT_FALSE(reads[1].registered);
  EXPECT_THAT(reads[1].assignments, ElementsAre("a1"));
  EXPECT_THAT(reads[1].cancels, ElementsAre("a1"));
}

TEST(ConnectResponseQueueTest, CountsWhatItHoldsAndClears) {
  ConnectResponseQueue queue(/*max_message_bytes=*/1000);
  EXPECT_TRUE(queue.empty());
  queue.AddAssignment(Assignment("a", 2000));
  queue.AddAssignment(Assignment("b", 2000));
  EXPECT_EQ(queue.size(), 2u);
  queue.Clear();
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace batchd::server
