#include "client/format/text_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace batchd::client {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

size_t DisplayWidth(absl::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !IsContinuationByte(c); }));
}

std::string TruncateText(absl::string_view text, size_t max_width) {
  if (DisplayWidth(text) <= max_width) return std::string(text);
  constexpr absl::string_view kEllipsis = "...";
  const size_t keep = max_width > kEllipsis.size() ? max_width - kEllipsis.size() : 0;
  size_t code_points = 0;
  size_t end = 0;
  for (; end < text.size(); ++end) {
    if (IsContinuationByte(text[end])) continue;
    if (code_points == keep) break;
    ++code_points;
  }
  return absl::StrCat(text.substr(0, end), kEllipsis);
}

TextTable::TextTable(std::vector<std::string> headers, std::vector<Align> aligns)
    : headers_(std::move(headers)), aligns_(std::move(aligns)) {
  aligns_.resize(headers_.size(), Align::kLeft);
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::vector<size_t> TextTable::ColumnWidths() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = DisplayWidth(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  return widths;
}

std::string TextTable::RenderRow(const std::vector<std::string>& cells,
                                 const std::vector<size_t>& widths) const {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += "  ";
    const std::string padding(widths[i] - DisplayWidth(cells[i]), ' ');
    if (aligns_[i] == Align::kRight) {
      absl::StrAppend(&line, padding, cells[i]);
    } else {
      absl::StrAppend(&line, cells[i], padding);
    }
  }
  line.erase(line.find_last_not_of(' ') + 1);
  line += '\n';
  return line;
}

std::string TextTable::Render() const {
  const std::vector<size_t> widths = ColumnWidths();
  std::string out = RenderRow(headers_, widths);
  for (const auto& row : rows_) out += RenderRow(row, widths);
  return out;
}

}  // namespace batchd::client
