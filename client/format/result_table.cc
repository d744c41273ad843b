#include "client/format/result_table.h"

#include <google/protobuf/util/json_util.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "client/format/state_names.h"
#include "client/format/text_table.h"
#include "client/format/units_format.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

// Errors may span lines; table cells must not.
std::string OneLine(const std::string& text, size_t max_width) {
  return TruncateText(absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}}),
                      max_width);
}

std::string OutcomeCell(const v1::TaskResult& result) {
  if (!result.success() && !result.error().empty()) return OneLine(result.error(), kMaxCellWidth);
  return CompactJson(result.output());
}

// Struct fields are a map whose iteration order varies; objects are printed with sorted keys
// so the same output always reads the same. Scalars are printed by protobuf's JSON printer.
void AppendJson(const google::protobuf::Value& value, std::string& out) {
  using google::protobuf::Value;
  if (value.kind_case() == Value::kStructValue) {
    const auto& fields = value.struct_value().fields();
    std::map<std::string, const Value*> sorted;
    for (const auto& [key, field] : fields) sorted.emplace(key, &field);
    out += '{';
    for (const auto& [key, field] : sorted) {
      if (out.back() != '{') out += ',';
      Value key_value;
      key_value.set_string_value(key);
      AppendJson(key_value, out);
      out += ':';
      AppendJson(*field, out);
    }
    out += '}';
  } else if (value.kind_case() == Value::kListValue) {
    out += '[';
    for (const Value& element : value.list_value().values()) {
      if (out.back() != '[') out += ',';
      AppendJson(element, out);
    }
    out += ']';
  } else {
    std::string scalar;
    out += google::protobuf::util::MessageToJsonString(value, &scalar).ok() ? scalar : "?";
  }
}

}  // namespace

std::string CompactJson(const google::protobuf::Value& value, size_t max_width) {
  if (value.kind_case() == google::protobuf::Value::KIND_NOT_SET) return "-";
  std::string json;
  AppendJson(value, json);
  return TruncateText(json, max_width);
}

std::string FormatResultTable(const v1::BatchSummary& summary) {
  using Align = TextTable::Align;
  TextTable table({"TASK", "STATE", "RETRIES", "DURATION_MS", "OUTPUT/ERROR"},
                  {Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kLeft});
  for (const v1::TaskResult& result : summary.results()) {
    table.AddRow({result.task_id(), TaskStateName(result.state()),
                  absl::StrCat(result.retry_count()), absl::StrFormat("%.1f", result.duration_ms()),
                  OutcomeCell(result)});
  }
  return absl::StrCat(table.Render(), FormatSummaryLine(summary), "\n");
}

std::string FormatResultLine(const v1::TaskResult& result) {
  return absl::StrCat(result.task_id(), "  ", TaskStateName(result.state()), "  retries ",
                      result.retry_count(), "  ", FormatMillis(result.duration_ms()), "  ",
                      OutcomeCell(result));
}

std::string FormatSummaryLine(const v1::BatchSummary& summary) {
  const uint32_t total = summary.total_tasks() > 0 ? summary.total_tasks()
                                                   : static_cast<uint32_t>(summary.results_size());
  std::string line =
      absl::StrCat("batch ", summary.batch_id(), " ", BatchStateName(summary.state()), ": total ",
                   total, ", successful ", summary.successful_count(), ", failed ",
                   summary.failed_count(), ", retried ", summary.retried_count(), ", success rate ",
                   FormatPercent(summary.successful_count(), total), ", duration ",
                   FormatMillis(summary.total_duration_ms()), ", throughput ",
                   FormatRate(summary.throughput_per_second()));
  if (!summary.cancel_reason().empty())
    absl::StrAppend(&line, ", cancelled: ", summary.cancel_reason());
  return line;
}

}  // namespace batchd::client
