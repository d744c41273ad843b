#include "server/observability/log_setup.h"

#include <grpc/support/log.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/enum_name.h"

namespace batchd::server {
namespace {

constexpr auto kLogFormatNames =
    core::MakeEnumNames<LogFormat>({{LogFormat::kText, "text"}, {LogFormat::kJson, "json"}}, "?");

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&s](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong 3/4-byte forms, surrogates and code points above U+10FFFF.
  if (c == 0xE0 && byte(i + 1) < 0xA0) return 0;
  if (c == 0xED && byte(i + 1) > 0x9F) return 0;
  if (c == 0xF0 && byte(i + 1) < 0x90) return 0;
  if (c == 0xF4 && byte(i + 1) > 0x8F) return 0;
  return n;
}

void GprLogToSpdlog(gpr_log_func_args* args) {
  // gRPC's INFO lines are internal detail (pollers, epoll fds): debug for the daemon.
  spdlog::level::level_enum level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  spdlog::log(level, "grpc: {} ({}:{})", args->message, args->file, args->line);
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  // Debian's Abseil has its own string_view, not std::string_view.
  if (std::optional<LogFormat> format = kLogFormatNames.Parse({name.data(), name.size()})) {
    return *format;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --log-format '", name, "': expected ", kLogFormatNames.Choices()));
}

void AppendJsonString(absl::string_view text, std::string& out) {
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(text, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(text.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

std::string JsonLogRecord(const spdlog::details::log_msg& msg,
                          absl::Span<const std::pair<absl::string_view, absl::string_view>> extra) {
  const auto since_epoch = msg.time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  const size_t len = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line = absl::StrFormat(
      "{\"ts\":\"%s.%06dZ\",\"level\":\"%s\",\"logger\":", absl::string_view(stamp, len),
      static_cast<int>(micros), spdlog::level::to_string_view(msg.level).data());
  AppendJsonString(absl::string_view(msg.logger_name.data(), msg.logger_name.size()), line);
  absl::StrAppend(&line, ",\"thread\":", msg.thread_id, ",\"msg\":");
  AppendJsonString(absl::string_view(msg.payload.data(), msg.payload.size()), line);
  for (const auto& [key, value] : extra) {
    line.push_back(',');
    AppendJsonString(key, line);
    line.push_back(':');
    AppendJsonString(value, line);
  }
  line += "}";
  return line;
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  std::string line = JsonLogRecord(msg);
  line += "\n";
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

void ConfigureLogging(LogFormat format, spdlog::level::level_enum level) {
  std::shared_ptr<spdlog::logger> logger = format == LogFormat::kJson
                                               ? spdlog::stderr_logger_mt("batchd")
                                               : spdlog::stderr_color_mt("batchd");
  if (format == LogFormat::kJson) logger->set_formatter(std::make_unique<JsonLogFormatter>());
  spdlog::set_default_logger(std::move(logger));
  spdlog::set_level(level);
  gpr_set_log_function(GprLogToSpdlog);
  gpr_set_log_verbosity(level <= spdlog::level::debug ? GPR_LOG_SEVERITY_DEBUG
                                                      : GPR_LOG_SEVERITY_INFO);
}

void LogFatal(LogFormat format, absl::string_view why) {
  if (format == LogFormat::kJson) {
    spdlog::critical("{}", std::string(why));
    spdlog::default_logger()->flush();
    return;
  }
  std::cerr << "batchd: " << why << std::endl;
}

}  // namespace batchd::server
