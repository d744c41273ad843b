#include "client/batchctl/cache_commands.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "batchd/v1/cache_service.pb.h"
#include "client/format/cache_format.h"

namespace batchd::client {

namespace v1 = batchd::v1;

int CacheStatsCommand(const CommandContext& context) {
  v1::GetCacheStatsResponse response;
  if (grpc::Status status = context.client.GetCacheStats({}, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatCacheStats(response.stats());
  return kExitOk;
}

int CacheInvalidateCommand(const CommandContext& context) {
  const CommandLine& command_line = context.command_line;
  const bool has_key = command_line.command_flags.contains("key");
  const bool has_namespace = command_line.command_flags.contains("namespace");
  v1::InvalidateCacheRequest request;
  if (command_line.all && !has_key && !has_namespace) {
    request.set_all(true);
  } else if (!command_line.all && has_key) {
    request.set_key(command_line.cache_key);
    request.set_namespace_(command_line.cache_namespace);
  } else if (!command_line.all && has_namespace) {
    request.set_whole_namespace(true);
    request.set_namespace_(command_line.cache_namespace);
  } else {
    context.err << "batchctl: say what to invalidate: " << kCacheInvalidateUsage << "\n";
    return kExitUsage;
  }
  v1::InvalidateCacheResponse response;
  if (grpc::Status status = context.client.InvalidateCache(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "invalidated " << response.removed()
              << (response.removed() == 1 ? " entry\n" : " entries\n");
  return kExitOk;
}

}  // namespace batchd::client
