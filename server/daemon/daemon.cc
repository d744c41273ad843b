#include "server/daemon/daemon.h"

#include <grpcpp/support/channel_arguments.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "batchd/v1/cache_service.grpc.pb.h"
#include "batchd/v1/limit_service.grpc.pb.h"
#include "batchd/v1/worker_service.grpc.pb.h"
#include "core/base/status_macros.h"
#include "core/limits/limit_records.h"
#include "server/journal/journal_recovery.h"
#include "server/observability/address_announcement.h"
#include "server/observability/rpc_metrics_interceptor.h"
#include "server/rpc/request_limits.h"

namespace batchd::server {
namespace {

// Reads the journal back for recovery: checks SQLite's structure and every record's checksum,
// logging what is damaged (damaged batches are not replayed, see RecoverBatches).
absl::StatusOr<core::JournalContents> LoadJournal(core::JournalStore& store) {
  if (absl::Status s = store.QuickCheck(); !s.ok()) {
    spdlog::critical("{}; batchd serves what it can read (batchd --check-journal reports it)",
                     std::string(s.message()));
  } else {
    spdlog::info("journal {}: quick_check ok", store.path());
  }
  ASSIGN_OR_RETURN(core::JournalContents contents, store.LoadAll());
  for (const std::string& damage : contents.orphan_damage) {
    spdlog::error("journal: {} (not replayed)", damage);
  }
  for (const std::string& damage : contents.limit_damage) {
    spdlog::error("journal: {} (the limits file's setting of that key applies)", damage);
  }
  for (const std::string& damage : contents.cache_damage) spdlog::error("journal: {}", damage);
  if (contents.unchecked_records > 0) {
    spdlog::info("journal: {} records were written before checksums and are not verified",
                 contents.unchecked_records);
  }
  return contents;
}

// The limits file's limits with the journaled run-time changes applied (the newest change of a
// key wins, a deletion included), handed to the scheduler before any batch is restored, so a
// restored batch finds the limits its tasks name.
void RestoreLimits(const LimitsConfig& config, const std::vector<core::LimitRecord>& records,
                   core::Scheduler& scheduler) {
  std::vector<std::string> problems;
  const std::vector<core::LimitSpec> limits =
      core::ApplyLimitRecords(config.limits, records, &problems);
  for (const std::string& problem : problems) spdlog::error("limits: {}", problem);
  size_t restored = 0;
  for (const core::LimitSpec& spec : limits) {
    if (absl::Status s = scheduler.RestoreLimit(spec); !s.ok()) {
      spdlog::error("limit '{}' not restored: {}", spec.key, s.ToString());
      continue;
    }
    ++restored;
  }
  if (restored > 0 || !records.empty()) {
    spdlog::info("limits: {} in force ({} in {}, {} changes at run time journaled)", restored,
                 config.limits.size(), config.file.empty() ? "no limits file" : config.file,
                 records.size());
  }
}

}  // namespace

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)),
      trimmer_(config_.malloc_trim_interval),
      health_({v1::BatchService::service_full_name(), v1::LimitService::service_full_name(),
               v1::CacheService::service_full_name(), v1::WorkerService::service_full_name()}),
      auth_(config_.security.bearer_token),
      streams_(config_.daemon.max_streams_per_client, config_.daemon.max_streams) {}

Daemon::~Daemon() = default;

int Daemon::Run(const sigset_t& shutdown_signals) {
  const DaemonOptions& options = config_.daemon;
  spdlog::debug("options: --listen={} --shutdown-grace={}", options.listen,
                absl::FormatDuration(options.shutdown_grace));
  absl::StatusOr<OpenedJournal> opened = OpenJournal();
  if (!opened.ok()) return Fail(opened.status(), kExitCannotServe);
  runtime_ = std::make_unique<SchedulerRuntime>(config_, std::move(opened->journal));
  if (!runtime_->executors_status().ok()) return Fail(runtime_->executors_status(), kExitBadFlags);
  if (!config_.secrets->empty()) {  // names only: a value is never logged
    spdlog::info("secrets: {} defined ({})", config_.secrets->size(),
                 absl::StrJoin(config_.secrets->Names(), ", "));
  }
  RestoreLimits(config_.limits, opened->limits, runtime_->scheduler());
  runtime_->scheduler().RestoreCache(std::move(opened->cache),
                                     std::move(opened->damaged_cache_keys));
  if (!opened->stored.empty()) {
    const RecoveryCounts recovered =
        RecoverBatches(std::move(opened->stored), runtime_->scheduler());
    spdlog::info("journal: {} batches recovered, {} not recoverable", recovered.restored,
                 recovered.failed);
  }
  BuildServices();
  ServerTuning tuning;
  tuning.max_request_bytes = options.max_request_bytes;
  tuning.keepalive_time = options.keepalive_time;
  if (absl::Status s = BindHttp(tuning); !s.ok()) return Fail(s, kExitCannotServe);
  if (absl::Status s = Listen(std::move(tuning)); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return Fail(s, kExitCannotServe);
  }
  ServeHttp();
  // Once every listener serves.
  if (absl::Status s = WriteAddresses(); !s.ok()) return Fail(s, kExitCannotServe);
  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  spdlog::info("received {}, shutting down (grace {})", strsignal(signal_number),
               absl::FormatDuration(options.shutdown_grace));
  Shutdown();
  spdlog::info("batchd stopped");
  return kExitServed;
}

absl::StatusOr<Daemon::OpenedJournal> Daemon::OpenJournal() {
  const DaemonOptions& options = config_.daemon;
  OpenedJournal opened;
  if (options.durability == core::Durability::kNone) return opened;
  absl::StatusOr<std::unique_ptr<core::JournalStore>> store = core::JournalStore::Open(
      options.data_dir, {options.durability, options.journal_page_limit_file});
  absl::StatusOr<core::JournalContents> loaded = store.ok() ? LoadJournal(**store) : store.status();
  if (!loaded.ok()) return loaded.status();
  opened.stored = std::move(loaded->batches);
  opened.limits = std::move(loaded->limits);
  opened.cache = std::move(loaded->cache);
  opened.damaged_cache_keys = std::move(loaded->damaged_cache_keys);
  spdlog::info("journal {} (durability {}): {} batches stored, {} cache entries", (*store)->path(),
               core::DurabilityName(options.durability), opened.stored.size(), opened.cache.size());
  opened.journal = std::make_unique<core::GroupCommitJournal>(*std::move(store));
  // New work is refused while it cannot be made durable: say so on Health.
  opened.journal->SetWritableListener([this](absl::Status writable) {
    health_.SetServiceServing(v1::BatchService::service_full_name(), writable.ok());
  });
  return opened;
}

void Daemon::BuildServices() {
  const DaemonOptions& options = config_.daemon;
  batches_ = std::make_unique<BatchService>(
      runtime_->scheduler(), runtime_->registry(), streams_, auth_, conversions_,
      RequestLimits{options.max_batch_tasks, options.max_task_input_bytes});
  limits_ =
      std::make_unique<LimitService>(runtime_->scheduler(), runtime_->clock(), auth_, conversions_);
  caches_ = std::make_unique<CacheService>(runtime_->scheduler(), auth_);
  workers_ = std::make_unique<WorkerService>(runtime_->worker_hub(), streams_, auth_, conversions_);
}

absl::Status Daemon::BindHttp(ServerTuning& tuning) {
  const HttpApiOptions& options = config_.http_api;
  if (options.listen.empty()) return absl::OkStatus();
  tuning.interceptors.push_back(
      std::make_unique<RpcMetricsInterceptorFactory>(runtime_->metrics()));
  http_api::HttpListenerConfig http;
  http.options = options;
  http.token_required = auth_.required();
  http.metrics = [this] { return runtime_->RenderMetrics(); };
  http.ready = [this] {
    return health_.StatusOf("batchd.v1.BatchService") ==
           grpc::health::v1::HealthCheckResponse::SERVING;
  };
  ASSIGN_OR_RETURN(http_, http_api::HttpListener::Bind(std::move(http)));
  return absl::OkStatus();
}

void Daemon::ServeHttp() {
  if (http_ == nullptr) return;
  // No receive limit of its own (gRPC's default is 4 MiB): a GetBatch or ProcessBatch summary
  // over it is one HTTP answer, and the request side is bounded by --http-api-max-body-bytes.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  http_->Serve(running_->server->InProcessChannel(args));
  spdlog::info("metrics on http://{}/metrics", http_->address());
  spdlog::info("http api on http://{}/v1/, dashboard on http://{}/", http_->address(),
               http_->address());
  AnnounceListener(config_.daemon.log_format, kHttpListener, http_->address());
}

absl::Status Daemon::Listen(ServerTuning tuning) {
  grpc::Service* const services[] = {&health_, batches_.get(), limits_.get(), caches_.get(),
                                     workers_.get()};
  ASSIGN_OR_RETURN(running_, StartGrpcServer(config_.daemon.listen, services, std::move(tuning),
                                             config_.security));
  health_.SetServing(true);
  spdlog::info("batchd listening on {}", running_->address);
  // Tests and scripts read this line (or the address file) to learn the port.
  AnnounceListener(config_.daemon.log_format, kGrpcListener, running_->address);
  return absl::OkStatus();
}

absl::Status Daemon::WriteAddresses() const {
  std::vector<BoundListener> bound = {{kGrpcListener, running_->address}};
  if (http_ != nullptr) bound.emplace_back(kHttpListener, http_->address());
  return WriteAddressFile(config_.daemon.address_file, bound);
}

void Daemon::Shutdown() {
  const absl::Duration grace = config_.daemon.shutdown_grace;
  RemoveAddressFile(config_.daemon.address_file);  // it names addresses that stop serving now
  health_.Shutdown();
  if (http_ != nullptr) http_->StopAccepting();
  // In-flight calls get the grace period; after it, unfinished batches are cancelled so calls
  // waiting on them (ProcessBatch, result and progress streams) complete and the drain ends.
  // Worker streams stay open while batches may still need them, and are closed once none is
  // unfinished (or after the cancel), so they do not hold the shutdown for the whole grace.
  const absl::Time deadline = absl::Now() + grace;
  // Batches are cancelled (or suspended) a little before gRPC cancels the calls still open, so
  // those calls end with the batch's own answer rather than a bare CANCELLED. The last quarter
  // of the grace, up to 2 s: a busy machine (or a sanitizer build under load) needs that long
  // to deliver the answers.
  const absl::Time stop_batches_at = deadline - std::min(grace / 4, absl::Seconds(2));
  absl::Notification drained;
  std::thread canceller([&] {
    while (!drained.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
      if (absl::Now() >= stop_batches_at) {
        // With a journal, unfinished batches resume at the next start instead.
        if (runtime_->scheduler().journaled()) {
          runtime_->StopJournal();
        } else {
          runtime_->scheduler().CancelAll("batchd is shutting down");
        }
        break;
      }
      if (runtime_->UnfinishedBatches() == 0) break;
    }
    runtime_->worker_hub().CloseAll(absl::UnavailableError("batchd is shutting down"));
  });
  // Via absl::Time so an infinite grace saturates instead of overflowing the time_point.
  running_->server->Shutdown(absl::ToChronoTime(deadline));
  running_->server->Wait();
  drained.Notify();
  canceller.join();
  http_.reset();  // its calls have ended with the server's
  // Every call has ended, so no job is posted any more; what is queued finds its call gone.
  conversions_.Join();
  runtime_->StopJournal();
}

int Daemon::Fail(const absl::Status& status, int exit_code) const {
  LogFatal(config_.daemon.log_format, status.message());
  return exit_code;
}

}  // namespace batchd::server
