// The batchd daemon, its composition root: from a validated DaemonConfig it opens the journal,
// recovers stored batches, builds the scheduler, executors and services, serves gRPC (and the
// metrics endpoint), and on a shutdown signal runs the one shutdown sequence. Construct, run and
// destroy on main's thread, after the shutdown signals are blocked in it.
#pragma once

#include <signal.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/journal/group_commit_journal.h"
#include "core/journal/journal_store.h"
#include "server/daemon/daemon_config.h"
#include "server/daemon/scheduler_runtime.h"
#include "server/http/http_listener.h"
#include "server/observability/malloc_trimmer.h"
#include "server/rpc/auth_check.h"
#include "server/rpc/batch_service.h"
#include "server/rpc/cache_service.h"
#include "server/rpc/conversion_pool.h"
#include "server/rpc/grpc_server.h"
#include "server/rpc/health_service.h"
#include "server/rpc/limit_service.h"
#include "server/rpc/stream_limiter.h"
#include "server/rpc/worker_service.h"

namespace batchd::server {

// batchd's exit codes.
inline constexpr int kExitServed = 0;       // stopped by SIGTERM/SIGINT
inline constexpr int kExitCannotServe = 1;  // the address or the data directory is unusable
inline constexpr int kExitBadFlags = 2;     // a flag value batchd rejects

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Serves until one of `shutdown_signals` (blocked in every thread) arrives, then shuts down:
  // kExitServed. kExitCannotServe when the journal, the metrics address or the address cannot be
  // used, kExitBadFlags when a configured executor cannot be set up; both after writing
  // "batchd: <why>" on stderr. Call once.
  int Run(const sigset_t& shutdown_signals);

 private:
  struct OpenedJournal {
    std::unique_ptr<core::GroupCommitJournal> journal;  // null with --durability=none
    std::vector<core::StoredBatch> stored;
    std::vector<core::LimitRecord> limits;  // run-time limit changes, newest per key
    std::vector<core::CacheRecord> cache;   // the result cache's entries
    std::vector<std::string> damaged_cache_keys;
  };

  absl::StatusOr<OpenedJournal> OpenJournal();
  void BuildServices();
  // With --http-listen: binds the HTTP listener and adds the RPC metrics interceptor to
  // `tuning`.
  absl::Status BindHttp(ServerTuning& tuning);
  // Once gRPC serves: the HTTP listener serves too, through an in-process channel, and prints
  // "batchd http listening on http://<address>" on stdout.
  void ServeHttp();
  // --address-file: {"grpc": ..., "http": ...} once every listener serves.
  absl::Status WriteAddresses() const;
  // Serves gRPC on --listen, announces it on stdout ("batchd listening on <address>", or its
  // JSON form) and writes the --address-file.
  absl::Status Listen(ServerTuning tuning);
  // After a shutdown signal: drains in-flight calls for up to --shutdown-grace, stopping
  // batches shortly before the end of it.
  void Shutdown();
  // Says why the daemon cannot go on ("batchd: <why>" on stderr, or a JSON log record) and
  // returns `exit_code`.
  int Fail(const absl::Status& status, int exit_code) const;

  const DaemonConfig config_;
  const MallocTrimmer trimmer_;  // its thread inherits main's blocked signal mask
  HealthService health_;
  std::unique_ptr<SchedulerRuntime> runtime_;
  const AuthCheck auth_;
  StreamLimiter streams_;
  // Converts and writes what the scheduler hands the services (its threads inherit main's
  // blocked signal mask); joined in Shutdown after the server's Wait.
  ConversionPool conversions_;
  std::unique_ptr<BatchService> batches_;
  std::unique_ptr<LimitService> limits_;
  std::unique_ptr<CacheService> caches_;
  std::unique_ptr<WorkerService> workers_;
  std::unique_ptr<http_api::HttpListener> http_;
  std::optional<RunningServer> running_;
};

}  // namespace batchd::server
