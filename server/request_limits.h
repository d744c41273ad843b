// Per-request limits checked before a batch is converted: the number of tasks and each task's
// input size. Over a limit is INVALID_ARGUMENT naming the limit and its flag (the request can
// never succeed as sent). Free functions; thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "batchd/v1/batch.pb.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace batchd::server {

struct RequestLimits {
  uint32_t max_batch_tasks = 1000000;
  uint32_t max_task_input_bytes = 1 << 20;
};

absl::Status CheckRequestLimits(const google::protobuf::RepeatedPtrField<v1::Task>& tasks,
                                const RequestLimits& limits);

}  // namespace batchd::server
