#include "client/batchctl/daemon_commands.h"

#include "client/cpp/batch_file.h"
#include "client/format/listing_format.h"

namespace batchd::client {

namespace v1 = batchd::v1;
using grpc::health::v1::HealthCheckResponse;

int HealthCommand(const CommandContext& context) {
  HealthCheckResponse response;
  if (grpc::Status status = context.client.CheckHealth("", &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == HealthCheckResponse::SERVING ? kExitOk : kExitFailure;
}

int ExecutorsCommand(const CommandContext& context) {
  v1::ListExecutorsResponse response;
  if (grpc::Status status = context.client.ListExecutors({}, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatExecutorTable(response);
  return kExitOk;
}

int LayersCommand(const CommandContext& context) {
  absl::StatusOr<v1::SubmitBatchRequest> batch =
      LoadBatchFile(context.command_line.args[0], context.in);
  if (!batch.ok()) return ReportError(context, batch.status());
  v1::ResolveExecutionOrderResponse response;
  if (grpc::Status status =
          context.client.ResolveExecutionOrder(ToResolveRequest(*batch), &response);
      !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatExecutionOrder(response);
  return kExitOk;
}

}  // namespace batchd::client
