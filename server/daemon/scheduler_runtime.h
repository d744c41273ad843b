// The scheduler and what it runs on: an io_context whose threads serve timers and executors'
// I/O, with every batch's state on one strand; the executors the configuration asks for; the
// worker hub; and the journal the scheduler records into, if any. Built and destroyed on one
// thread (the daemon's); the accessors' objects document their own thread-safety.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/executors/executor_registry.h"
#include "core/executors/http/connection_pool.h"
#include "core/journal/group_commit_journal.h"
#include "core/scheduling/scheduler.h"
#include "core/time/asio_timer_service.h"
#include "core/time/clock.h"
#include "core/workers/worker_hub.h"
#include "server/daemon/daemon_config.h"
#include "server/observability/prometheus_metrics.h"

namespace batchd::server {

class SchedulerRuntime {
 public:
  // Starts config.daemon.scheduler_threads threads running the io_context. `journal` may be null
  // (--durability=none).
  SchedulerRuntime(const DaemonConfig& config, std::unique_ptr<core::GroupCommitJournal> journal);
  SchedulerRuntime(const SchedulerRuntime&) = delete;
  SchedulerRuntime& operator=(const SchedulerRuntime&) = delete;
  // Stops the journal (see StopJournal), then the threads.
  ~SchedulerRuntime();

  // Not OK when a configured executor (shell, http, plugins) could not be set up.
  const absl::Status& executors_status() const { return executors_status_; }
  core::Scheduler& scheduler() { return *scheduler_; }
  const core::ExecutorRegistry& registry() const { return registry_; }
  core::WorkerHub& worker_hub() { return worker_hub_; }
  const core::Clock& clock() const { return clock_; }
  PrometheusMetrics& metrics() { return metrics_; }
  // The metrics text with gauges sampled now (waits for the strand, at most 5 s).
  std::string RenderMetrics();
  // With a journal: suspends the scheduler (nothing more is recorded; unfinished batches resume
  // at the next start), then stores what is queued and closes the journal. Safe to repeat.
  void StopJournal();
  // Blocks until the strand answers.
  size_t UnfinishedBatches();

 private:
  std::unique_ptr<core::GroupCommitJournal> journal_;  // outlives the scheduler
  boost::asio::io_context io_;
  core::AsioTimerService::Strand strand_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  core::SystemClock clock_;
  core::AsioTimerService timers_;
  core::ExecutorRegistry registry_;
  std::shared_ptr<const core::ConnectionPool> http_pool_;  // null until the http executor is up
  PrometheusMetrics metrics_;
  core::WorkerHub worker_hub_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::vector<std::thread> threads_;
  absl::Status executors_status_;
};

}  // namespace batchd::server
