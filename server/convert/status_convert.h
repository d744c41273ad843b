// absl::Status -> grpc::Status with the same canonical code and message; core field violations
// travel as google.rpc.BadRequest inside a google.rpc.Status in the error details
// (grpc-status-details-bin). Free function; thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace batchd::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace batchd::server
