// spawn() for C++ task handlers: adds tasks to the batch of the assignment being run (AddTasks,
// see BatchService), through a BatchClient on the daemon the worker serves. The handler does not
// wait for them (and should not: it would hold its slot while they run); it replies when its own
// work is done, and a task that depends on the spawned ones gets their results. Thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "batchd/v1/batch_service.pb.h"
#include "batchd/v1/worker_service.pb.h"
#include "client/cpp/batch_client.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace batchd::client {

struct SpawnOptions {
  bool close = false;      // close the batch after adding (AddTasksRequest.close)
  std::string request_id;  // idempotency key of this addition (AddTasksRequest.request_id)
};

// AddTasks(assignment.batch_id(), tasks); `response` (optional) gets the batch's task count.
grpc::Status Spawn(const BatchClient& client, const v1::TaskAssignment& assignment,
                   const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                   const SpawnOptions& options = {}, v1::AddTasksResponse* response = nullptr);

}  // namespace batchd::client
