// The batchd daemon's command-line flags (--listen, --log-level, --shutdown-grace, scheduler
// limits; --flagfile
// comes with Abseil) read once, after absl::ParseCommandLine, into a validated value.
// Call from main's thread only.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/journal/journal_store.h"
#include "server/observability/log_setup.h"

namespace batchd::server {

struct DaemonOptions {
  std::string listen;  // host:port (port 0 = any free port) or unix:/path
  // --address-file: where the bound addresses are written once serving; empty = nowhere.
  std::string address_file;
  spdlog::level::level_enum log_level = spdlog::level::info;
  LogFormat log_format = LogFormat::kText;
  absl::Duration shutdown_grace;
  uint32_t max_running = 1024;
  absl::Duration retention;
  uint32_t max_finished_batches = 10000;
  uint32_t scheduler_threads = 1;
  int max_request_bytes = 64 << 20;
  // Where /metrics is served: the HTTP listener's address (--http-listen, or its alias
  // --metrics-listen), set by DaemonConfigFromFlags; empty = no metrics endpoint.
  std::string metrics_listen;
  // Limits that keep one client from taking the daemon down.
  uint32_t max_batch_tasks = 1000000;
  uint32_t max_task_input_bytes = 1 << 20;
  uint32_t max_task_output_bytes = 1 << 20;  // StreamTaskOutput's log per task
  uint32_t max_active_batches = 10000;
  uint32_t max_streams_per_client = 256;
  uint32_t max_streams = 4096;
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration worker_heartbeat_interval = absl::Seconds(5);
  absl::Duration worker_cancel_grace = absl::Seconds(5);
  // The journal: where it lives and how hard it tries to keep every record.
  std::string data_dir;  // resolved: --data-dir, else $STATE_DIRECTORY, else ./batchd-data
  core::Durability durability = core::Durability::kNormal;
  // Tests only: SQLite's max_page_count read from this file before each journal write.
  std::string journal_page_limit_file;
  // --check-journal: verify the data directory's journal and exit instead of serving.
  bool check_journal = false;
};

// INVALID_ARGUMENT naming the flag when a value is unusable.
absl::StatusOr<DaemonOptions> DaemonOptionsFromFlags();

// trace|debug|info|warn|error.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view name);

}  // namespace batchd::server
