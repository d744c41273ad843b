#include "core/workers/worker_executor.h"

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records what the executor hands the hub.
class RecordingDispatcher final : public WorkerDispatcher {
 public:
  void Dispatch(ConnectedWorker& worker, const ExecutionRequest& request,
                CompletionSink&) override {
    ++worker.in_flight;
    dispatched.push_back(worker.id + ":" + std::string(request.task_id));
  }
  void CancelAttempt(const AttemptToken& token, std::string_view reason) override {
    cancels.push_back(absl::StrCat(token.task, ":", std::string(reason)));
  }
  std::vector<std::string> dispatched;
  std::vector<std::string> cancels;
};

class RecordingSink final : public CompletionSink {
 public:
  void Complete(const AttemptToken&, ExecutionOutcome outcome) override {
    outcomes.push_back(std::move(outcome));
  }
  std::vector<ExecutionOutcome> outcomes;
};

ConnectedWorker Worker(std::string id, uint32_t slots, uint32_t in_flight = 0) {
  ConnectedWorker w;
  w.id = std::move(id);
  w.slots = slots;
  w.in_flight = in_flight;
  return w;
}

class WorkerExecutorTest : public ::testing::Test {
 protected:
  void Start(uint32_t task) {
    const std::string id = "t" + std::to_string(task);
    executor_.Start(
        ExecutionRequest{AttemptToken{1, task, 1}, "batch", id, input_, 0, 0, 1000, SteadyTime()},
        sink_);
  }
  ExecutorDescription Described() const {
    ExecutorDescription d{"gpu", "worker"};
    executor_.Describe(d);
    return d;
  }

  RecordingDispatcher dispatcher_;
  RecordingSink sink_;
  WorkerExecutor executor_{"gpu", dispatcher_};
  boost::json::value input_;
};

TEST_F(WorkerExecutorTest, WithoutWorkersItIsUnservedWithoutCapacity) {
  EXPECT_EQ(executor_.name(), "gpu");
  EXPECT_EQ(executor_.Unserved(), "No worker serves executor 'gpu'");
  EXPECT_EQ(executor_.FreeCapacity(), 0u);
  EXPECT_EQ(Described().workers, 0u);
  EXPECT_EQ(Described().capacity, 0u);
}

TEST_F(WorkerExecutorTest, CapacityIsTheFreeSlotsOfItsWorkers) {
  ConnectedWorker a = Worker("a#1", 2, 1);
  ConnectedWorker b = Worker("b#2", 3);
  executor_.AddWorker(&a);
  executor_.AddWorker(&b);
  EXPECT_EQ(executor_.Unserved(), "");
  EXPECT_EQ(executor_.FreeCapacity(), 4u);
  EXPECT_EQ(Described().workers, 2u);
  EXPECT_EQ(Described().capacity, 5u);
}

TEST_F(WorkerExecutorTest, RemovingTheLastWorkerMakesItUnservedAgain) {
  ConnectedWorker a = Worker("a#1", 2);
  ConnectedWorker stranger = Worker("s#9", 7);
  executor_.AddWorker(&a);
  executor_.RemoveWorker(&stranger);  // not one of its workers: nothing changes
  EXPECT_EQ(Described().workers, 1u);
  executor_.RemoveWorker(&a);
  EXPECT_EQ(executor_.Unserved(), "No worker serves executor 'gpu'");
  EXPECT_EQ(executor_.FreeCapacity(), 0u);
  EXPECT_EQ(Described().workers, 0u);
  EXPECT_EQ(Described().capacity, 0u);
}

TEST_F(WorkerExecutorTest, StartDispatchesToAWorkerWithAFreeSlot) {
  ConnectedWorker full = Worker("full#1", 1, 1);
  ConnectedWorker free = Worker("free#2", 1);
  executor_.AddWorker(&full);
  executor_.AddWorker(&free);
  Start(0);
  EXPECT_THAT(dispatcher_.dispatched, ElementsAre("free#2:t0"));
  EXPECT_THAT(sink_.outcomes, IsEmpty());
  EXPECT_EQ(executor_.FreeCapacity(), 0u);
}

TEST_F(WorkerExecutorTest, StartWithEveryWorkerBusyFailsTheAttempt) {
  ConnectedWorker full = Worker("full#1", 1, 1);
  executor_.AddWorker(&full);
  Start(0);
  EXPECT_THAT(dispatcher_.dispatched, IsEmpty());
  ASSERT_EQ(sink_.outcomes.size(), 1u);
  EXPECT_FALSE(sink_.outcomes[0].success);
  EXPECT_EQ(sink_.outcomes[0].error, "Every worker serving executor 'gpu' is busy");
}

TEST_F(WorkerExecutorTest, StartWithoutWorkersFailsWithTheUnservedError) {
  Start(0);
  EXPECT_THAT(dispatcher_.dispatched, IsEmpty());
  ASSERT_EQ(sink_.outcomes.size(), 1u);
  EXPECT_EQ(sink_.outcomes[0].error, "No worker serves executor 'gpu'");
}

TEST_F(WorkerExecutorTest, CancelsGoToTheDispatcherWithTheirReason) {
  executor_.Cancel(AttemptToken{1, 3, 1});
  executor_.CancelBecause(AttemptToken{1, 4, 1}, "Timeout after 1000 ms");
  EXPECT_THAT(dispatcher_.cancels, ElementsAre("3:cancelled by batchd", "4:Timeout after 1000 ms"));
}

}  // namespace
}  // namespace batchd::core
