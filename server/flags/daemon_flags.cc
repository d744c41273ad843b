#include "server/flags/daemon_flags.h"

#include <array>
#include <cstdlib>
#include <utility>

#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to serve on: host:port (port 0 picks a free port) or unix:/path");
ABSL_FLAG(std::string, address_file, "",
          "Once every listener is bound, write their addresses here as JSON, "
          "{\"grpc\":\"127.0.0.1:50051\",\"http\":\"127.0.0.1:8080\"} (http only with "
          "--http-listen), through a temporary file and a rename; removed at shutdown");
ABSL_FLAG(std::string, log_level, "info", "Log level: trace, debug, info, warn or error");
ABSL_FLAG(std::string, log_format, "text",
          "Log lines on stderr: text, or json (one object per line, and the listening "
          "lines on stdout as JSON too)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM/SIGINT, how long in-flight calls may run before they are "
          "cancelled");
ABSL_FLAG(uint32_t, max_running, 1024,
          "Daemon-wide limit of running task attempts, shared round-robin between "
          "batches with ready tasks");
ABSL_FLAG(absl::Duration, retention, absl::Hours(1),
          "How long a finished batch stays queryable before it is freed");
ABSL_FLAG(uint32_t, max_finished_batches, 10000,
          "Finished batches kept at most; the oldest are freed first");
ABSL_FLAG(uint32_t, scheduler_threads, 1,
          "Threads running the scheduler's event loop (timers, executors' I/O); "
          "scheduler state itself lives on one strand");
ABSL_FLAG(uint32_t, max_request_bytes, 64u << 20,
          "Largest request message accepted, in bytes (a whole batch is one message)");

ABSL_FLAG(std::string, metrics_listen, "",
          "host:port serving Prometheus metrics at GET /metrics (e.g. 127.0.0.1:9464); "
          "empty = off");
ABSL_FLAG(uint32_t, max_batch_tasks, 1000000, "Most tasks one batch may have");
ABSL_FLAG(uint32_t, max_task_input_bytes, 1u << 20,
          "Largest input of one task, in bytes of its protobuf encoding");
ABSL_FLAG(uint32_t, max_task_output_bytes, 1u << 20,
          "Partial output (StreamTaskOutput) kept per task, in bytes: the newest; older chunks are "
          "dropped and readers behind them told how many bytes they missed");
ABSL_FLAG(uint32_t, max_active_batches, 10000,
          "Most unfinished batches at once; more submissions get RESOURCE_EXHAUSTED");
ABSL_FLAG(uint32_t, max_streams_per_client, 256,
          "Most open streams (StreamResults, WatchProgress, worker Connect) from one "
          "client host");
ABSL_FLAG(uint32_t, max_streams, 4096, "Most open streams in total");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Seconds(60),
          "Idle time after which the server pings a connection to keep long streams "
          "alive through NATs and proxies (clients may ping every 10s or more)");
ABSL_FLAG(absl::Duration, worker_heartbeat_interval, absl::Seconds(5),
          "How often callback workers must send a heartbeat; a worker silent for 3 "
          "intervals is dropped and its running tasks are re-dispatched");
ABSL_FLAG(absl::Duration, worker_cancel_grace, absl::Seconds(5),
          "How long a worker slot stays held after a cancel the worker has not "
          "acknowledged");
ABSL_FLAG(std::string, data_dir, "",
          "Directory of the journal that lets batches survive restarts and crashes; "
          "empty = $STATE_DIRECTORY (systemd), else ./batchd-data");
ABSL_FLAG(std::string, durability, "normal",
          "none: no journal (batches are lost with the process); normal: accepted batches and "
          "their results survive a crash of batchd; full: they also survive power loss "
          "(fsync per commit)");
ABSL_FLAG(bool, check_journal, false,
          "Verify the journal in --data-dir (SQLite quick_check, every record's "
          "checksum, every batch decodes) and exit: 0 when intact, 1 when damaged or "
          "unreadable; the directory must not be in use by a running batchd");
ABSL_FLAG(std::string, test_journal_page_limit_file, "",
          "Tests only: a file holding a page count, applied as the journal's SQLite "
          "max_page_count before each write (to fill the journal and grow it again)");

namespace batchd::server {
namespace {

absl::Status CheckWorkerDuration(absl::string_view flag, absl::Duration d) {
  if (d < absl::Milliseconds(10) || d > absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --", flag, " ", absl::FormatDuration(d),
                                                   ": must be between 10ms and 1h"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view name) {
  static constexpr std::array<std::pair<absl::string_view, spdlog::level::level_enum>, 5> kLevels =
      {{{"trace", spdlog::level::trace},
        {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},
        {"error", spdlog::level::err}}};
  for (const auto& [level_name, level] : kLevels) {
    if (name == level_name) return level;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid --log-level '", name, "': expected one of trace, debug, info, warn, error"));
}

absl::StatusOr<DaemonOptions> DaemonOptionsFromFlags() {
  DaemonOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  if (options.listen.empty()) return absl::InvalidArgumentError("--listen must not be empty");
  options.address_file = absl::GetFlag(FLAGS_address_file);
  ASSIGN_OR_RETURN(options.log_level, ParseLogLevel(absl::GetFlag(FLAGS_log_level)));
  ASSIGN_OR_RETURN(options.log_format, ParseLogFormat(absl::GetFlag(FLAGS_log_format)));
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --shutdown-grace ",
                                                   absl::FormatDuration(options.shutdown_grace),
                                                   ": must not be negative"));
  }
  options.max_running = absl::GetFlag(FLAGS_max_running);
  if (options.max_running == 0) {
    return absl::InvalidArgumentError("invalid --max-running 0: must be at least 1");
  }
  options.retention = absl::GetFlag(FLAGS_retention);
  if (options.retention < absl::ZeroDuration() || options.retention == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --retention ",
                                                   absl::FormatDuration(options.retention),
                                                   ": must be a finite, non-negative duration"));
  }
  options.max_finished_batches = absl::GetFlag(FLAGS_max_finished_batches);
  options.scheduler_threads = absl::GetFlag(FLAGS_scheduler_threads);
  if (options.scheduler_threads == 0 || options.scheduler_threads > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --scheduler-threads ", options.scheduler_threads, ": must be between 1 and 64"));
  }
  const uint32_t max_request = absl::GetFlag(FLAGS_max_request_bytes);
  if (max_request < 1024 || max_request > (1u << 31) - 1) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --max-request-bytes ", max_request,
                                                   ": must be between 1024 and 2147483647"));
  }
  options.max_request_bytes = static_cast<int>(max_request);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.max_batch_tasks = absl::GetFlag(FLAGS_max_batch_tasks);
  options.max_task_input_bytes = absl::GetFlag(FLAGS_max_task_input_bytes);
  options.max_task_output_bytes = absl::GetFlag(FLAGS_max_task_output_bytes);
  options.max_active_batches = absl::GetFlag(FLAGS_max_active_batches);
  options.max_streams_per_client = absl::GetFlag(FLAGS_max_streams_per_client);
  options.max_streams = absl::GetFlag(FLAGS_max_streams);
  for (const auto& [flag, value] :
       {std::pair<absl::string_view, uint32_t>{"max-batch-tasks", options.max_batch_tasks},
        {"max-task-input-bytes", options.max_task_input_bytes},
        {"max-task-output-bytes", options.max_task_output_bytes},
        {"max-active-batches", options.max_active_batches},
        {"max-streams-per-client", options.max_streams_per_client},
        {"max-streams", options.max_streams}}) {
    if (value == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid --", flag, " 0: must be at least 1"));
    }
  }
  options.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  if (options.keepalive_time < absl::Seconds(1) || options.keepalive_time > absl::Hours(24)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --keepalive-time ",
                                                   absl::FormatDuration(options.keepalive_time),
                                                   ": must be between 1s and 24h"));
  }
  options.worker_heartbeat_interval = absl::GetFlag(FLAGS_worker_heartbeat_interval);
  RETURN_IF_ERROR(
      CheckWorkerDuration("worker-heartbeat-interval", options.worker_heartbeat_interval));
  ASSIGN_OR_RETURN(options.durability, core::ParseDurability(absl::GetFlag(FLAGS_durability)));
  options.journal_page_limit_file = absl::GetFlag(FLAGS_test_journal_page_limit_file);
  options.check_journal = absl::GetFlag(FLAGS_check_journal);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.data_dir.empty()) {
    // systemd's StateDirectory= may list several directories separated by ':'; use the first.
    const char* state = std::getenv("STATE_DIRECTORY");
    options.data_dir =
        state != nullptr && *state != '\0'
            ? std::string(absl::string_view(state).substr(0, absl::string_view(state).find(':')))
            : std::string("batchd-data");
  }
  options.worker_cancel_grace = absl::GetFlag(FLAGS_worker_cancel_grace);
  RETURN_IF_ERROR(CheckWorkerDuration("worker-cancel-grace", options.worker_cancel_grace));
  return options;
}

}  // namespace batchd::server
