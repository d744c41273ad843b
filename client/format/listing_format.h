// Text forms of the daemon's listings: executors, batches and a graph's execution order.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "batchd/v1/batch_service.pb.h"

namespace batchd::client {

// NAME, KIND, WORKERS, CAPACITY ("-" for unbounded). Ends with '\n'.
std::string FormatExecutorTable(const batchd::v1::ListExecutorsResponse& response);

// ID, STATE, DONE (completed/total), CREATED, in the daemon's (newest first) order.
std::string FormatBatchList(const batchd::v1::ListBatchesResponse& response);

// TASK, STATE, LAYER, RETRIES, WORKER, DETAIL (why it waits, or its error), in task order.
std::string FormatTaskList(const batchd::v1::ListTasksResponse& response);

// The line that says how to get the next page ("" on the last page): "(3 of 10; next page:
// --page-token TOKEN)". Ends with '\n'.
std::string FormatNextPage(int listed, uint32_t total_size, const std::string& next_page_token);

// `layer 0: a` per layer, then `critical path: a -> b -> d`. Ends with '\n'.
std::string FormatExecutionOrder(const batchd::v1::ResolveExecutionOrderResponse& response);
// "a -> b -> c"; paths longer than 31 tasks show the first 20, a count and the last 10.
std::string FormatCriticalPath(const google::protobuf::RepeatedPtrField<std::string>& path);

}  // namespace batchd::client
