#include "client/batchctl/command_context.h"

#include "client/format/error_format.h"

namespace batchd::client {

int ReportRpcError(const CommandContext& context, const grpc::Status& status) {
  context.err << FormatRpcError(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    context.err << "  (is batchd running at " << context.command_line.address << "?)\n";
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    context.err << "  (batchd wants a bearer token: --token-file or $BATCHD_TOKEN_FILE)\n";
  }
  return kExitFailure;
}

int ReportError(const CommandContext& context, const absl::Status& status) {
  context.err << "batchctl: " << status.message() << "\n";
  return kExitFailure;
}

}  // namespace batchd::client
