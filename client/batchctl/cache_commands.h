// batchctl's `cache` commands: the result cache's counters and invalidation (CacheService). Each
// command returns the process exit code. Not thread-safe (see CommandContext).
#pragma once

#include "absl/strings/string_view.h"
#include "client/batchctl/command_context.h"

namespace batchd::client {

inline constexpr absl::string_view kCacheInvalidateUsage =
    "cache invalidate (--key KEY [--namespace NS] | --namespace NS | --all)";

// GetCacheStats, one line per counter.
int CacheStatsCommand(const CommandContext& context);
// InvalidateCache of a client key (--key, in --namespace), a whole namespace (--namespace
// alone) or everything (--all); prints how many entries went.
int CacheInvalidateCommand(const CommandContext& context);

}  // namespace batchd::client
