// The daemon's logging: spdlog to stderr as text or JSON lines (one object per line, message
// escaped), with gRPC's own log lines routed through the same logger. Call ConfigureLogging
// once from main before any other thread logs.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace batchd::server {

enum class LogFormat { kText, kJson };

// "text" or "json"; INVALID_ARGUMENT naming --log-format otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// A record as one JSON object without the newline: JsonLogFormatter's keys, then `extra`'s in
// order (string values). For lines written outside the logger, e.g. on stdout.
std::string JsonLogRecord(
    const spdlog::details::log_msg& msg,
    absl::Span<const std::pair<absl::string_view, absl::string_view>> extra = {});

// One JSON object per record: {"ts":"2026-11-26T09:00:00.123456Z","level":"info",
// "logger":"batchd","thread":123,"msg":"..."}. Thread-safe (stateless).
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Installs the stderr logger "batchd" with `format` and `level`, and routes gRPC's logging
// (gpr_log) into it.
void ConfigureLogging(LogFormat format, spdlog::level::level_enum level);

// For an error that stops the daemon once logging is configured: "batchd: <why>" on stderr with
// text logs (as main writes before), a critical record with JSON logs, so every line parses.
void LogFatal(LogFormat format, absl::string_view why);

// Appends `text` as a JSON string literal (quotes included) with every control character,
// quote and backslash escaped; invalid UTF-8 bytes become U+FFFD.
void AppendJsonString(absl::string_view text, std::string& out);

}  // namespace batchd::server
