// Spawn against the scripted in-process server: the handler's tasks reach AddTasks for the
// assignment's own batch, with close and request_id, and the daemon's answer comes back.
#include "client/worker/spawn.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_batch_service.h"

namespace batchd::client {
namespace {

TEST(SpawnTest, AddsTheTasksToTheAssignmentsBatch) {
  batchd::testing::FakeBatchServer server;
  server.batch.script()->add.set_total_tasks(3);
  const BatchClient client(server.channel(), CallTimeouts{});
  v1::TaskAssignment assignment;
  assignment.set_batch_id("b-7");
  assignment.set_task_id("plan");
  google::protobuf::RepeatedPtrField<v1::Task> tasks;
  tasks.Add()->set_id("search-0");
  tasks.Add()->set_id("search-1");
  v1::AddTasksResponse response;
  const grpc::Status status =
      Spawn(client, assignment, tasks, SpawnOptions{true, "plan-1"}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.total_tasks(), 3u);
  EXPECT_THAT(server.log.calls(),
              ::testing::ElementsAre("AddTasks batch_id: \"b-7\" tasks { id: \"search-0\" } "
                                     "tasks { id: \"search-1\" } request_id: \"plan-1\" close: "
                                     "true"));
}

TEST(SpawnTest, TheDaemonsRefusalComesBack) {
  batchd::testing::FakeBatchServer server;
  server.batch.script()->status =
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "Batch 'b-7' is closed");
  const BatchClient client(server.channel(), CallTimeouts{});
  v1::TaskAssignment assignment;
  assignment.set_batch_id("b-7");
  const grpc::Status status = Spawn(client, assignment, {});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "Batch 'b-7' is closed");
}

}  // namespace
}  // namespace batchd::client
