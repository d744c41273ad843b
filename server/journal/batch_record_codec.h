// The durable form of a submitted batch: the request's deterministic protobuf encoding (map
// entries sorted), which the journal stores and which tells whether two submissions with one
// request_id carry the same content. Free functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/model/batch_spec.h"

namespace batchd::server {

// SubmitBatchRequest and ProcessBatchRequest share their field numbers, so a batch submitted
// either way has the same content (request_id included: it is the same for twins).
std::string EncodeBatchContent(const v1::SubmitBatchRequest& request);
std::string EncodeBatchContent(const v1::ProcessBatchRequest& request);

// DATA_LOSS when `content` does not parse; the request's own errors as BatchSpecFromProto.
absl::StatusOr<core::BatchSpec> DecodeBatchContent(std::string_view content);

// AddTasks' durable form: the request without batch_id and close (kept by their own events),
// so a retry with its request_id compares what it adds.
std::string EncodeAddedContent(const v1::AddTasksRequest& request);
absl::StatusOr<std::vector<core::TaskSpec>> DecodeAddedContent(std::string_view content);

}  // namespace batchd::server
