// Batch files: a SubmitBatchRequest in the proto JSON mapping, read from a path or stdin,
// and the other requests built from the same tasks. Free functions; thread-safe except that
// reading "-" consumes the given stream.
#pragma once

#include <istream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "batchd/v1/batch_service.pb.h"

namespace batchd::client {

// Parses `json` strictly (unknown fields are errors). `source` names the input in messages.
// INVALID_ARGUMENT with the JSON parser's message on failure.
absl::StatusOr<batchd::v1::SubmitBatchRequest> ParseBatchJson(absl::string_view json,
                                                              absl::string_view source);

// Reads and parses the file at `path`, or `stdin_stream` when `path` is "-".
// NOT_FOUND / PERMISSION_DENIED / ... when the file cannot be read, else as ParseBatchJson.
absl::StatusOr<batchd::v1::SubmitBatchRequest> LoadBatchFile(absl::string_view path,
                                                             std::istream& stdin_stream);

batchd::v1::ProcessBatchRequest ToProcessBatchRequest(const batchd::v1::SubmitBatchRequest& batch);
batchd::v1::ResolveExecutionOrderRequest ToResolveRequest(
    const batchd::v1::SubmitBatchRequest& batch);

}  // namespace batchd::client
