// ListBatches and ListTasks: requests to core queries (checked at the edge: states, the label
// selector, page_size, page_token, each refused as INVALID_ARGUMENT naming its field) and core
// pages back to answers. Free functions; thread-safe.
#pragma once

#include "absl/status/statusor.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/model/batch_listing.h"
#include "core/model/task_status.h"

namespace batchd::server {

absl::StatusOr<core::BatchListQuery> BatchListQueryFromProto(const v1::ListBatchesRequest& request);
absl::StatusOr<core::TaskListQuery> TaskListQueryFromProto(const v1::ListTasksRequest& request);

void BatchPageToProto(const core::BatchPage& page, v1::ListBatchesResponse* out);
void TaskStatusToProto(const core::TaskStatus& status, v1::TaskStatus* out);
void TaskPageToProto(const core::TaskPage& page, v1::ListTasksResponse* out);

}  // namespace batchd::server
