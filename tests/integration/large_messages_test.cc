// Streams that carry user data, read by clients with gRPC's default limits (4 MiB per received
// message): StreamResults with big results (from the start and resumed with after_sequence) and
// worker assignments with big inputs must arrive whole, each result or assignment exactly once
// and in order, in messages of at most 1 MiB. Against the real daemon.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr std::chrono::seconds kCallTimeout{120};
constexpr absl::Duration kPollTimeout = absl::Seconds(60);
// The daemon's bound on one streamed message (server/rpc/message_budget.h).
constexpr size_t kMessageBound = size_t{1} << 20;
// gRPC's default receive limit, which the clients below keep.
constexpr size_t kDefaultReceiveLimit = size_t{4} << 20;

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

// `n` echo tasks t0..t<n-1>, each with a string input (hence output) of `bytes` characters.
v1::SubmitBatchRequest EchoBatch(int n, size_t bytes, v1::Aggregation aggregation) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < n; ++i) {
    v1::Task* task = request.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_executor("echo");
    task->mutable_input()->set_string_value(std::string(bytes, static_cast<char>('a' + i % 26)));
  }
  request.mutable_options()->set_max_concurrent(64);
  request.mutable_options()->set_aggregation(aggregation);
  return request;
}

// Everything one StreamResults call delivered.
struct StreamRead {
  std::vector<std::string> ids;     // in the order received
  std::vector<uint64_t> sequences;  // of each result, from the messages' sequence numbers
  size_t messages = 0;
  size_t largest_message = 0;        // serialized bytes
  size_t largest_with_several = 0;   // of messages holding more than one result
  bool sequences_consistent = true;  // each message's sequence = previous + its results
  bool ended_with_summary = false;
  uint32_t summary_total = 0;
  grpc::Status status;
};

class LargeMessagesTest : public testing::DaemonTestBase {
 protected:
  void SetUp() override {
    DaemonTestBase::SetUp();
    if (daemon_ == nullptr) return;
    // A plain channel: gRPC's default 4 MiB receive limit, as grpcurl and grpc-js have.
    channel_ = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::BatchService::NewStub(channel_);
  }

  std::string Submit(const v1::SubmitBatchRequest& request) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::SubmitBatchResponse response;
    const grpc::Status status = stub_->SubmitBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return response.batch_id();
  }

  // Polls GetProgress (GetBatch's summary would hold every result: over 4 MiB here) until the
  // batch finished; its final state.
  v1::BatchState WaitFinished(const std::string& batch_id) {
    const absl::Time deadline = absl::Now() + kPollTimeout;
    while (absl::Now() < deadline) {
      grpc::ClientContext context;
      SetDeadline(&context);
      v1::GetProgressRequest request;
      request.set_batch_id(batch_id);
      v1::GetProgressResponse response;
      const grpc::Status status = stub_->GetProgress(&context, request, &response);
      if (!status.ok()) {
        ADD_FAILURE() << status.error_code() << ": " << status.error_message();
        break;
      }
      const v1::BatchState state = response.progress().state();
      if (state != v1::BATCH_STATE_PENDING && state != v1::BATCH_STATE_RUNNING) return state;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "batch " << batch_id << " did not finish";
    return v1::BATCH_STATE_UNSPECIFIED;
  }

  StreamRead ReadResults(const std::string& batch_id, uint64_t after_sequence) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StreamResultsRequest request;
    request.set_batch_id(batch_id);
    request.set_after_sequence(after_sequence);
    std::unique_ptr<grpc::ClientReader<v1::StreamResultsResponse>> reader =
        stub_->StreamResults(&context, request);
    StreamRead read;
    uint64_t cursor = after_sequence;
    v1::StreamResultsResponse message;
    while (reader->Read(&message)) {
      ++read.messages;
      const size_t bytes = message.ByteSizeLong();
      read.largest_message = std::max(read.largest_message, bytes);
      if (message.results_size() > 1) {
        read.largest_with_several = std::max(read.largest_with_several, bytes);
      }
      if (message.has_summary()) {
        read.ended_with_summary = true;
        read.summary_total = message.summary().total_tasks();
        if (message.sequence() != cursor || message.results_size() != 0) {
          read.sequences_consistent = false;
        }
        continue;
      }
      const uint64_t first = message.sequence() - message.results_size() + 1;
      if (first != cursor + 1) read.sequences_consistent = false;
      for (int i = 0; i < message.results_size(); ++i) {
        read.ids.push_back(message.results(i).task_id());
        read.sequences.push_back(first + i);
      }
      cursor = message.sequence();
    }
    read.status = reader->Finish();
    return read;
  }

  // Reads the finished batch from the start and again after `resume_after`; checks both.
  void ExpectReadableWhole(const std::string& batch_id, int tasks, uint64_t resume_after) {
    EXPECT_EQ(WaitFinished(batch_id), v1::BATCH_STATE_SUCCEEDED);

    const StreamRead all = ReadResults(batch_id, 0);
    ASSERT_TRUE(all.status.ok()) << all.status.error_code() << ": " << all.status.error_message();
    EXPECT_TRUE(all.ended_with_summary);
    EXPECT_EQ(all.summary_total, static_cast<uint32_t>(tasks));
    EXPECT_TRUE(all.sequences_consistent);
    ASSERT_EQ(all.ids.size(), static_cast<size_t>(tasks));
    EXPECT_EQ(std::set<std::string>(all.ids.begin(), all.ids.end()).size(), all.ids.size())
        << "every result exactly once";
    for (size_t i = 0; i < all.sequences.size(); ++i) EXPECT_EQ(all.sequences[i], i + 1);
    EXPECT_LE(all.largest_with_several, kMessageBound);
    EXPECT_LT(all.largest_message, kDefaultReceiveLimit);

    const StreamRead tail = ReadResults(batch_id, resume_after);
    ASSERT_TRUE(tail.status.ok()) << tail.status.error_code() << ": "
                                  << tail.status.error_message();
    EXPECT_TRUE(tail.ended_with_summary);
    EXPECT_TRUE(tail.sequences_consistent);
    const std::vector<std::string> expected(all.ids.begin() + static_cast<long>(resume_after),
                                            all.ids.end());
    EXPECT_THAT(tail.ids, ElementsAreArray(expected));
    ASSERT_FALSE(tail.sequences.empty());
    EXPECT_EQ(tail.sequences.front(), resume_after + 1);
    EXPECT_LE(tail.largest_with_several, kMessageBound);
    std::cerr << "batch of " << tasks << ": " << all.messages << " messages, largest "
              << all.largest_message << " bytes\n";
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::BatchService::Stub> stub_;
};

TEST_F(LargeMessagesTest, FiveResultsOfAMegabyteEachStreamToADefaultClient) {
  // 1,000,000 characters: just under --max-task-input-bytes (1 MiB) with the Value's framing.
  const std::string id = Submit(EchoBatch(5, 1000000, v1::AGGREGATION_ORDERED));
  ASSERT_FALSE(id.empty());
  ExpectReadableWhole(id, 5, /*resume_after=*/2);
}

TEST_F(LargeMessagesTest, TwoThousandFiveKilobyteResultsStreamToADefaultClient) {
  // Unbounded, the first 1,024 results went in one 5.2 MB message.
  const std::string id = Submit(EchoBatch(2000, 5000, v1::AGGREGATION_UNORDERED));
  ASSERT_FALSE(id.empty());
  ExpectReadableWhole(id, 2000, /*resume_after=*/1000);
}

TEST_F(LargeMessagesTest, TwoThousandFiveKilobyteResultsStreamWhileTheBatchRuns) {
  // Read while results are still being produced, in the aggregation order.
  const std::string id = Submit(EchoBatch(2000, 5000, v1::AGGREGATION_PRIORITY));
  ASSERT_FALSE(id.empty());
  const StreamRead read = ReadResults(id, 0);
  ASSERT_TRUE(read.status.ok()) << read.status.error_code() << ": " << read.status.error_message();
  EXPECT_TRUE(read.ended_with_summary);
  EXPECT_TRUE(read.sequences_consistent);
  EXPECT_EQ(read.ids.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(read.ids.begin(), read.ids.end()).size(), 2000u);
  EXPECT_LE(read.largest_with_several, kMessageBound);
}

// A worker with the default receive limit, taking eight assignments of ~900 KB at once: packed
// into one message they would be 7 MB.
TEST_F(LargeMessagesTest, BigAssignmentsReachADefaultWorkerInBoundedMessages) {
  std::unique_ptr<v1::WorkerService::Stub> workers = v1::WorkerService::NewStub(channel_);
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = workers->Connect(&context);
  v1::ConnectRequest hello;
  hello.mutable_registration()->set_name("big");
  hello.mutable_registration()->add_executors("big");
  hello.mutable_registration()->set_slots(8);
  ASSERT_TRUE(stream->Write(hello));
  v1::ConnectResponse response;
  ASSERT_TRUE(stream->Read(&response));
  const std::string worker_id = response.registered().worker_id();
  ASSERT_THAT(worker_id, StartsWith("big#"));

  v1::SubmitBatchRequest request;
  for (int i = 0; i < 8; ++i) {
    v1::Task* task = request.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_executor("big");
    task->mutable_input()->set_string_value(std::string(900000, 'x'));
  }
  request.mutable_options()->set_max_concurrent(8);
  const std::string batch_id = Submit(request);
  ASSERT_FALSE(batch_id.empty());

  std::vector<std::string> tasks;
  size_t largest_with_several = 0;
  while (tasks.size() < 8 && stream->Read(&response)) {
    if (response.assignments_size() > 1) {
      largest_with_several = std::max(largest_with_several, response.ByteSizeLong());
    }
    for (const v1::TaskAssignment& a : response.assignments()) {
      tasks.push_back(a.task_id());
      EXPECT_EQ(a.input().string_value().size(), 900000u);
      v1::ConnectRequest outcome;
      outcome.add_outcomes()->set_assignment_id(a.assignment_id());
      outcome.mutable_outcomes(0)->set_success(true);
      outcome.mutable_outcomes(0)->mutable_output()->set_string_value("done");
      ASSERT_TRUE(stream->Write(outcome));
    }
  }
  std::sort(tasks.begin(), tasks.end());
  EXPECT_THAT(tasks, ElementsAreArray({"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}));
  EXPECT_LE(largest_with_several, kMessageBound);
  EXPECT_EQ(WaitFinished(batch_id), v1::BATCH_STATE_SUCCEEDED);

  // A clean close (WritesDone) ends the stream OK and is logged at info, not as a warning.
  ASSERT_TRUE(stream->WritesDone());
  while (stream->Read(&response)) {
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  const std::string line = absl::StrCat("[info] worker ", worker_id, " left: closed its stream");
  const absl::Time deadline = absl::Now() + kPollTimeout;
  while (absl::Now() < deadline && daemon_->Stderr().find(line) == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(daemon_->Stderr(), HasSubstr(line));
  EXPECT_THAT(daemon_->Stderr(), Not(HasSubstr(absl::StrCat("worker ", worker_id, " gone"))));
}

}  // namespace
}  // namespace batchd
