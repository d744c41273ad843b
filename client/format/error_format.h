// Human-readable text for failed RPCs, including google.rpc.BadRequest field violations
// carried in the status details. Pure functions; thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "absl/strings/string_view.h"

namespace batchd::client {

// "INVALID_ARGUMENT", "UNAVAILABLE", ...; "CODE(<n>)" for codes gRPC does not define.
std::string StatusCodeName(grpc::StatusCode code);

// "ERROR <CODE>: <message>\n" followed by "  <field>: <description>\n" for each field
// violation in the status details. Undecodable details are ignored.
std::string FormatRpcError(const grpc::Status& status);

}  // namespace batchd::client
