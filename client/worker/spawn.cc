#include "client/worker/spawn.h"

namespace batchd::client {

grpc::Status Spawn(const BatchClient& client, const v1::TaskAssignment& assignment,
                   const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                   const SpawnOptions& options, v1::AddTasksResponse* response) {
  v1::AddTasksRequest request;
  request.set_batch_id(assignment.batch_id());
  *request.mutable_tasks() = tasks;
  request.set_close(options.close);
  request.set_request_id(options.request_id);
  v1::AddTasksResponse ignored;
  return client.AddTasks(request, response != nullptr ? response : &ignored);
}

}  // namespace batchd::client
