#include "server/daemon/scheduler_runtime.h"

#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/executors/builtin_executors.h"
#include "core/executors/executor_environment.h"
#include "core/executors/http/http_executor.h"

namespace batchd::server {
namespace {

// Registers the executors the configuration asks for beyond the built-ins; `http_pool` gets the
// http executor's connection pool.
absl::Status RegisterConfiguredExecutors(const DaemonConfig& config,
                                         core::ExecutorEnvironment& environment,
                                         std::shared_ptr<const core::ConnectionPool>& http_pool) {
  RETURN_IF_ERROR(RegisterConfiguredPlugins(config.plugins, environment));
  RETURN_IF_ERROR(RegisterConfiguredShellExecutor(config.shell, environment));
  if (const std::string proxies = config.http.transport.proxy.Describe(); !proxies.empty()) {
    spdlog::info("http executor: proxies: {}", proxies);
  }
  ASSIGN_OR_RETURN(http_pool, core::RegisterHttpExecutor(environment, config.http));
  return absl::OkStatus();
}

core::WorkerHubOptions WorkerHubOptionsFrom(const DaemonOptions& options) {
  core::WorkerHubOptions hub;
  hub.heartbeat_interval = absl::ToChronoNanoseconds(options.worker_heartbeat_interval);
  hub.cancel_grace = absl::ToChronoNanoseconds(options.worker_cancel_grace);
  return hub;
}

}  // namespace

SchedulerRuntime::SchedulerRuntime(const DaemonConfig& config,
                                   std::unique_ptr<core::GroupCommitJournal> journal)
    : journal_(std::move(journal)),
      strand_(boost::asio::make_strand(io_)),
      work_(boost::asio::make_work_guard(io_)),
      timers_(strand_, clock_),
      worker_hub_(strand_, clock_, timers_, registry_, WorkerHubOptionsFrom(config.daemon)) {
  const DaemonOptions& options = config.daemon;
  absl::Status builtins = core::RegisterBuiltinExecutors(registry_, clock_, timers_);
  if (!builtins.ok()) spdlog::critical("{}", builtins.ToString());
  core::ExecutorEnvironment environment{io_, strand_, clock_, timers_, registry_};
  executors_status_ = RegisterConfiguredExecutors(config, environment, http_pool_);
  core::SchedulerOptions scheduler_options;
  scheduler_options.max_running = options.max_running;
  scheduler_options.retention = absl::ToChronoNanoseconds(options.retention);
  scheduler_options.max_finished_batches = options.max_finished_batches;
  scheduler_options.max_active_batches = options.max_active_batches;
  if (!options.metrics_listen.empty()) scheduler_options.observer = &metrics_;
  scheduler_options.journal = journal_.get();
  scheduler_options.limits.max_keys = config.limits.max_keys;
  scheduler_options.cache = config.cache;
  scheduler_options.secrets = config.secrets;
  scheduler_options.max_task_output_bytes = options.max_task_output_bytes;
  scheduler_ =
      std::make_unique<core::Scheduler>(strand_, clock_, timers_, registry_, scheduler_options);
  worker_hub_.SetCapacityListener(scheduler_.get());
  for (uint32_t i = 0; i < options.scheduler_threads; ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
}

SchedulerRuntime::~SchedulerRuntime() {
  StopJournal();
  work_.reset();
  io_.stop();
  for (std::thread& t : threads_) t.join();
  scheduler_.reset();
}

std::string SchedulerRuntime::RenderMetrics() {
  auto gauges = std::make_shared<std::promise<core::SchedulerGauges>>();
  std::future<core::SchedulerGauges> sampled = gauges->get_future();
  scheduler_->Snapshot([gauges](core::SchedulerGauges g) { gauges->set_value(g); });
  core::SchedulerGauges g;
  if (sampled.wait_for(std::chrono::seconds(5)) == std::future_status::ready) g = sampled.get();
  std::optional<core::GroupCommitJournal::Stats> journal;
  if (journal_ != nullptr) journal = journal_->stats();
  std::optional<core::ConnectionPoolStats> http;
  if (http_pool_ != nullptr) http = http_pool_->stats();
  return metrics_.Render(g, registry_.List(), journal, http);
}

void SchedulerRuntime::StopJournal() {
  if (journal_ == nullptr) return;
  scheduler_->Suspend("batchd is shutting down");
  UnfinishedBatches();  // the strand has run the suspension
  journal_->Close();
}

size_t SchedulerRuntime::UnfinishedBatches() {
  std::promise<size_t> count;
  scheduler_->CountUnfinished([&count](size_t n) { count.set_value(n); });
  return count.get_future().get();
}

}  // namespace batchd::server
