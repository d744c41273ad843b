// What batchctl's commands run with (parsed command line, client, streams, terminal facts)
// and how they report errors. Not thread-safe: commands share the streams.
#pragma once

#include <grpcpp/support/status.h>

#include <istream>
#include <ostream>

#include "absl/status/status.h"
#include "client/batchctl/command_line.h"
#include "client/cpp/batch_client.h"
#include "client/cpp/channel.h"

namespace batchd::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // RPC error, unreadable input, failed tasks
inline constexpr int kExitUsage = 2;

struct CommandContext {
  const CommandLine& command_line;
  const BatchClient& client;
  // What `client`'s channel was made from, for commands that open channels of their own.
  const ChannelOptions& channel;
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  bool out_is_tty = false;
  int terminal_columns = 80;
};

// Prints the formatted RPC error (with a hint when the daemon is unreachable) to `err`;
// returns kExitFailure.
int ReportRpcError(const CommandContext& context, const grpc::Status& status);

// Prints "batchctl: <message>" to `err`; returns kExitFailure.
int ReportError(const CommandContext& context, const absl::Status& status);

}  // namespace batchd::client
