// batchd: the gRPC batch-execution daemon. Parses flags, wires the services, serves until
// SIGTERM/SIGINT, then drains in-flight calls for up to --shutdown-grace and exits 0.
// Batches are journaled in --data-dir (unless --durability=none) and resume after a restart.
// `batchd --check-journal` verifies the journal and exits (0 intact, 1 damaged or unusable).
// Exit codes: 0 after a signal, 1 when the address or the data directory cannot be used,
// 2 for unusable flags.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>  // environ
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <memory>
#include <thread>

#include "absl/flags/parse.h"
#include "absl/synchronization/notification.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "batchd/v1/worker_service.grpc.pb.h"
#include "core/time/asio_timer_service.h"
#include "core/executors/builtin_executors.h"
#include "core/executors/executor_environment.h"
#include "core/journal/group_commit_journal.h"
#include "core/journal/journal_store.h"
#include "core/executors/http/http_executor.h"
#include "core/scheduling/scheduler.h"
#include "core/workers/worker_hub.h"
#include "server/rpc/batch_service.h"
#include "server/rpc/auth_check.h"
#include "server/flags/daemon_flags.h"
#include "server/flags/flag_environment.h"
#include "server/rpc/grpc_server.h"
#include "server/rpc/health_service.h"
#include "server/journal/journal_check.h"
#include "server/journal/journal_recovery.h"
#include "server/observability/log_setup.h"
#include "server/observability/malloc_trimmer.h"
#include "server/observability/metrics_http_server.h"
#include "server/observability/prometheus_metrics.h"
#include "server/observability/rpc_metrics_interceptor.h"
#include "server/flags/plugin_flags.h"
#include "server/flags/security_flags.h"
#include "server/flags/shell_flags.h"
#include "server/rpc/worker_service.h"

namespace {

using batchd::server::DaemonOptions;
using batchd::server::SecurityOptions;

constexpr int kExitCannotListen = 1;
constexpr int kExitBadFlags = 2;

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// Reads the journal back for recovery: checks SQLite's structure and every record's checksum,
// logging what is damaged (damaged batches are not replayed, see RecoverBatches).
absl::StatusOr<std::vector<batchd::core::StoredBatch>> LoadJournal(batchd::core::JournalStore& store) {
  if (absl::Status s = store.QuickCheck(); !s.ok()) {
    spdlog::critical("{}; batchd serves what it can read (batchd --check-journal reports it)",
                     std::string(s.message()));
  } else {
    spdlog::info("journal {}: quick_check ok", store.path());
  }
  absl::StatusOr<batchd::core::JournalContents> contents = store.LoadAll();
  if (!contents.ok()) return contents.status();
  for (const std::string& damage : contents->orphan_damage) {
    spdlog::error("journal: {} (not replayed)", damage);
  }
  if (contents->unchecked_records > 0) {
    spdlog::info("journal: {} records were written before checksums and are not verified",
                 contents->unchecked_records);
  }
  return std::move(contents->batches);
}

// Registers the executors the flags ask for beyond the built-ins (one line per family).
absl::Status RegisterConfiguredExecutors(const DaemonOptions& options,
                                         batchd::core::ExecutorEnvironment& environment) {
  (void)options;
  (void)environment;
  if (absl::Status s = batchd::server::RegisterPluginsFromFlags(environment); !s.ok()) return s;
  if (absl::Status s = batchd::server::RegisterShellExecutorFromFlags(environment); !s.ok()) return s;
  if (absl::Status s = batchd::core::RegisterHttpExecutor(environment); !s.ok()) return s;
  return absl::OkStatus();
}

batchd::core::WorkerHubOptions WorkerHubOptionsFrom(const DaemonOptions& options) {
  batchd::core::WorkerHubOptions hub;
  hub.heartbeat_interval = absl::ToChronoNanoseconds(options.worker_heartbeat_interval);
  hub.cancel_grace = absl::ToChronoNanoseconds(options.worker_cancel_grace);
  return hub;
}

// The scheduler and what it runs on: an io_context whose threads serve timers and executors'
// I/O, with every batch's state on one strand; and the journal it records into, if any.
class SchedulerRuntime {
 public:
  SchedulerRuntime(const DaemonOptions& options,
                   std::unique_ptr<batchd::core::GroupCommitJournal> journal)
      : journal_(std::move(journal)),
        strand_(boost::asio::make_strand(io_)),
        work_(boost::asio::make_work_guard(io_)),
        timers_(strand_, clock_),
        worker_hub_(strand_, clock_, timers_, registry_, WorkerHubOptionsFrom(options)) {
    absl::Status builtins = batchd::core::RegisterBuiltinExecutors(registry_, clock_, timers_);
    if (!builtins.ok()) spdlog::critical("{}", builtins.ToString());
    batchd::core::ExecutorEnvironment environment{io_, strand_, clock_, timers_, registry_};
    executors_status_ = RegisterConfiguredExecutors(options, environment);
    batchd::core::SchedulerOptions scheduler_options;
    scheduler_options.max_running = options.max_running;
    scheduler_options.retention = absl::ToChronoNanoseconds(options.retention);
    scheduler_options.max_finished_batches = options.max_finished_batches;
    scheduler_options.max_active_batches = options.max_active_batches;
    if (!options.metrics_listen.empty()) scheduler_options.observer = &metrics_;
    scheduler_options.journal = journal_.get();
    scheduler_ = std::make_unique<batchd::core::Scheduler>(strand_, clock_, timers_, registry_,
                                                           scheduler_options);
    worker_hub_.SetCapacityListener(scheduler_.get());
    for (uint32_t i = 0; i < options.scheduler_threads; ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }
  ~SchedulerRuntime() {
    StopJournal();
    work_.reset();
    io_.stop();
    for (std::thread& t : threads_) t.join();
    scheduler_.reset();
  }

  // Not OK when a configured executor (shell, http, plugins) could not be set up.
  const absl::Status& executors_status() const { return executors_status_; }
  batchd::core::Scheduler& scheduler() { return *scheduler_; }
  const batchd::core::ExecutorRegistry& registry() const { return registry_; }
  batchd::core::WorkerHub& worker_hub() { return worker_hub_; }
  batchd::core::GroupCommitJournal* journal() { return journal_.get(); }
  batchd::server::PrometheusMetrics& metrics() { return metrics_; }
  // The metrics text with gauges sampled now (waits for the strand, at most 5 s).
  std::string RenderMetrics() {
    auto gauges = std::make_shared<std::promise<batchd::core::SchedulerGauges>>();
    std::future<batchd::core::SchedulerGauges> sampled = gauges->get_future();
    scheduler_->Snapshot([gauges](batchd::core::SchedulerGauges g) { gauges->set_value(g); });
    batchd::core::SchedulerGauges g;
    if (sampled.wait_for(std::chrono::seconds(5)) == std::future_status::ready) g = sampled.get();
    std::optional<batchd::core::GroupCommitJournal::Stats> journal;
    if (journal_ != nullptr) journal = journal_->stats();
    return metrics_.Render(g, registry_.List(), journal);
  }
  // With a journal: suspends the scheduler (nothing more is recorded; unfinished batches resume
  // at the next start), then stores what is queued and closes the journal.
  void StopJournal() {
    if (journal_ == nullptr) return;
    scheduler_->Suspend("batchd is shutting down");
    UnfinishedBatches();  // the strand has run the suspension
    journal_->Close();
  }
  // Blocks until the strand answers.
  size_t UnfinishedBatches() {
    std::promise<size_t> count;
    scheduler_->CountUnfinished([&count](size_t n) { count.set_value(n); });
    return count.get_future().get();
  }

 private:
  std::unique_ptr<batchd::core::GroupCommitJournal> journal_;  // outlives the scheduler
  boost::asio::io_context io_;
  batchd::core::AsioTimerService::Strand strand_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  batchd::core::SystemClock clock_;
  batchd::core::AsioTimerService timers_;
  batchd::core::ExecutorRegistry registry_;
  batchd::server::PrometheusMetrics metrics_;
  batchd::core::WorkerHub worker_hub_;
  std::unique_ptr<batchd::core::Scheduler> scheduler_;
  std::vector<std::thread> threads_;
  absl::Status executors_status_;
};

int Serve(const DaemonOptions& options, const SecurityOptions& security,
          const sigset_t& shutdown_signals) {
  spdlog::debug("options: --listen={} --shutdown-grace={}", options.listen,
                absl::FormatDuration(options.shutdown_grace));
  batchd::server::HealthService health({batchd::v1::BatchService::service_full_name(),
                                        batchd::v1::WorkerService::service_full_name()});
  std::unique_ptr<batchd::core::GroupCommitJournal> journal;
  std::vector<batchd::core::StoredBatch> stored;
  if (options.durability != batchd::core::Durability::kNone) {
    absl::StatusOr<std::unique_ptr<batchd::core::JournalStore>> store =
        batchd::core::JournalStore::Open(
            options.data_dir, {options.durability, options.journal_page_limit_file});
    absl::StatusOr<std::vector<batchd::core::StoredBatch>> loaded =
        store.ok() ? LoadJournal(**store) : store.status();
    if (!loaded.ok()) {
      std::cerr << "batchd: " << loaded.status().message() << std::endl;
      return kExitCannotListen;
    }
    stored = *std::move(loaded);
    spdlog::info("journal {} (durability {}): {} batches stored", (*store)->path(),
                 batchd::core::DurabilityName(options.durability), stored.size());
    journal = std::make_unique<batchd::core::GroupCommitJournal>(*std::move(store));
    // New work is refused while it cannot be made durable: say so on Health.
    journal->SetWritableListener([&health](absl::Status writable) {
      health.SetServiceServing(batchd::v1::BatchService::service_full_name(), writable.ok());
    });
  }
  SchedulerRuntime runtime(options, std::move(journal));
  if (!runtime.executors_status().ok()) {
    std::cerr << "batchd: " << runtime.executors_status().message() << std::endl;
    return kExitBadFlags;
  }
  if (!stored.empty()) {
    const batchd::server::RecoveryCounts recovered =
        batchd::server::RecoverBatches(std::move(stored), runtime.scheduler());
    spdlog::info("journal: {} batches recovered, {} not recoverable", recovered.restored,
                 recovered.failed);
  }
  const batchd::server::AuthCheck auth(security.bearer_token);
  batchd::server::StreamLimiter streams(options.max_streams_per_client, options.max_streams);
  batchd::server::BatchService batches(
      runtime.scheduler(), runtime.registry(), streams, auth,
      batchd::server::RequestLimits{options.max_batch_tasks, options.max_task_input_bytes});
  batchd::server::WorkerService workers(runtime.worker_hub(), streams, auth);
  grpc::Service* const services[] = {&health, &batches, &workers};

  batchd::server::ServerTuning tuning;
  tuning.max_request_bytes = options.max_request_bytes;
  tuning.keepalive_time = options.keepalive_time;
  std::unique_ptr<batchd::server::MetricsHttpServer> metrics_server;
  if (!options.metrics_listen.empty()) {
    tuning.interceptors.push_back(
        std::make_unique<batchd::server::RpcMetricsInterceptorFactory>(runtime.metrics()));
    absl::StatusOr<std::unique_ptr<batchd::server::MetricsHttpServer>> started =
        batchd::server::MetricsHttpServer::Start(options.metrics_listen,
                                                 [&runtime] { return runtime.RenderMetrics(); });
    if (!started.ok()) {
      std::cerr << "batchd: " << started.status().message() << std::endl;
      return kExitCannotListen;
    }
    metrics_server = *std::move(started);
    spdlog::info("metrics on http://{}/metrics", metrics_server->address());
  }
  absl::StatusOr<batchd::server::RunningServer> running =
      batchd::server::StartGrpcServer(options.listen, services, std::move(tuning), security);
  if (!running.ok()) {
    spdlog::error("{}", running.status().ToString());
    std::cerr << "batchd: " << running.status().message() << std::endl;
    return kExitCannotListen;
  }
  health.SetServing(true);
  spdlog::info("batchd listening on {}", running->address);
  // Tests and scripts read this line to learn the port; it is the only thing on stdout.
  std::cout << "batchd listening on " << running->address << std::endl;

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  spdlog::info("received {}, shutting down (grace {})", strsignal(signal_number),
               absl::FormatDuration(options.shutdown_grace));
  health.Shutdown();
  // In-flight calls get the grace period; after it, unfinished batches are cancelled so calls
  // waiting on them (ProcessBatch, result and progress streams) complete and the drain ends.
  // Worker streams stay open while batches may still need them, and are closed once none is
  // unfinished (or after the cancel), so they do not hold the shutdown for the whole grace.
  const absl::Time deadline = absl::Now() + options.shutdown_grace;
  // Batches are cancelled (or suspended) a little before gRPC cancels the calls still open, so
  // those calls end with the batch's own answer rather than a bare CANCELLED. The last quarter
  // of the grace, up to 2 s: a busy machine (or a sanitizer build under load) needs that long
  // to deliver the answers.
  const absl::Time stop_batches_at =
      deadline - std::min(options.shutdown_grace / 4, absl::Seconds(2));
  absl::Notification drained;
  std::thread canceller([&] {
    while (!drained.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
      if (absl::Now() >= stop_batches_at) {
        // With a journal, unfinished batches resume at the next start instead.
        if (runtime.scheduler().journaled()) {
          runtime.StopJournal();
        } else {
          runtime.scheduler().CancelAll("batchd is shutting down");
        }
        break;
      }
      if (runtime.UnfinishedBatches() == 0) break;
    }
    runtime.worker_hub().CloseAll(absl::UnavailableError("batchd is shutting down"));
  });
  // Via absl::Time so an infinite grace saturates instead of overflowing the time_point.
  running->server->Shutdown(absl::ToChronoTime(deadline));
  running->server->Wait();
  drained.Notify();
  canceller.join();
  runtime.StopJournal();
  spdlog::info("batchd stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "gRPC batch-execution daemon.\n"
      "  batchd [--listen=host:port|unix:/path] [--log-level=info] [--shutdown-grace=5s]\n"
      "Every flag can also come from a --flagfile=FILE (one --flag=value per line) or from the\n"
      "environment as BATCHD_<NAME> (--log-level: BATCHD_LOG_LEVEL); the command line wins.");
  // The daemon's own flags are those defined under server/: --help lists them grouped by file,
  // and each can be set from the environment.
  const auto is_daemon_file = [](absl::string_view file) {
    return absl::StrContains(file, "server/");
  };
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = is_daemon_file;
  usage.contains_helpshort_flags = is_daemon_file;
  absl::SetFlagsUsageConfig(usage);
  // BATCHD_LOG_LEVEL=debug sets --log-level=debug; the command line, parsed after, wins.
  absl::StatusOr<std::vector<std::string>> unknown_variables =
      batchd::server::ApplyFlagsFromEnvironment(environ, [&](const absl::CommandLineFlag& flag) {
        return is_daemon_file(flag.Filename());
      });
  if (!unknown_variables.ok()) {
    std::cerr << "batchd: " << unknown_variables.status().message() << std::endl;
    return kExitBadFlags;
  }
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<DaemonOptions> options = batchd::server::DaemonOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "batchd: " << options.status().message() << std::endl;
    return kExitBadFlags;
  }
  const absl::StatusOr<absl::Duration> trim_interval = batchd::server::MallocTrimIntervalFromFlags();
  if (!trim_interval.ok()) {
    std::cerr << "batchd: " << trim_interval.status().message() << std::endl;
    return kExitBadFlags;
  }
  absl::StatusOr<SecurityOptions> security = batchd::server::SecurityOptionsFromFlags();
  absl::StatusOr<std::vector<std::string>> security_warnings =
      security.ok() ? batchd::server::CheckListenSecurity(options->listen, *security)
                    : security.status();
  if (!security_warnings.ok()) {
    std::cerr << "batchd: " << security_warnings.status().message() << std::endl;
    return kExitBadFlags;
  }
  // Logs go to stderr: stdout carries only the "listening" line.
  batchd::server::ConfigureLogging(options->log_format, options->log_level);
  for (const std::string& variable : *unknown_variables) {
    spdlog::warn("ignoring {}: no daemon flag has that name", variable);
  }
  for (const std::string& warning : *security_warnings) spdlog::warn("{}", warning);

  // Blocked before gRPC starts any thread, so every thread inherits the mask and the signals
  // reach only sigwait: no work happens in a signal handler.
  const sigset_t shutdown_signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  if (options->check_journal) {
    const batchd::server::JournalCheck check = batchd::server::CheckJournal(options->data_dir);
    for (const std::string& line : check.lines) std::cout << line << "\n";
    return check.intact ? 0 : kExitCannotListen;
  }
  // After the mask: its thread must not take the shutdown signals either.
  const batchd::server::MallocTrimmer trimmer(*trim_interval);
  return Serve(*options, *security, shutdown_signals);
}
