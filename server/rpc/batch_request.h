// A SubmitBatch / ProcessBatch request checked at the edge (request limits, proto conversion)
// and, when the edge already refuses it, by core's validation too, so that one answer lists
// every violation of the request in input order (core::FieldPathBefore). Free functions;
// thread-safe (the registry is only read).
#pragma once

#include "absl/status/statusor.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/executors/executor_registry.h"
#include "core/model/batch_spec.h"
#include "server/rpc/request_limits.h"

namespace batchd::server {

// The spec to submit, or INVALID_ARGUMENT with the violations (the first
// core::kMaxFieldViolations listed, all counted in the message). A spec returned here is
// validated by core when submitted (Batch::Create), with the same order. Over the task-count
// limit the request is refused for that alone, before its tasks are read.
absl::StatusOr<core::BatchSpec> BatchSpecFromRequest(const v1::SubmitBatchRequest& request,
                                                     const RequestLimits& limits,
                                                     const core::ExecutorRegistry& registry);
absl::StatusOr<core::BatchSpec> BatchSpecFromRequest(const v1::ProcessBatchRequest& request,
                                                     const RequestLimits& limits,
                                                     const core::ExecutorRegistry& registry);

}  // namespace batchd::server
