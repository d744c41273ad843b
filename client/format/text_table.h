// Column-aligned plain-text tables for terminal output, and cutting cell text to a width.
// TextTable is a value type; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace batchd::client {

class TextTable {
 public:
  enum class Align { kLeft, kRight };

  // `aligns` may be shorter than `headers`; missing columns align left.
  explicit TextTable(std::vector<std::string> headers, std::vector<Align> aligns = {});

  // Missing cells render empty; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);

  // Header and rows, columns two spaces apart, each line ending in '\n' without trailing
  // blanks. Widths count UTF-8 code points, not bytes.
  std::string Render() const;

 private:
  std::vector<size_t> ColumnWidths() const;
  std::string RenderRow(const std::vector<std::string>& cells,
                        const std::vector<size_t>& widths) const;

  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

// Number of UTF-8 code points in `text`.
size_t DisplayWidth(absl::string_view text);

// `text` if it fits in `max_width` code points, else its start (cut at a code-point
// boundary) followed by "..." so the result is exactly `max_width` wide. max_width >= 3.
std::string TruncateText(absl::string_view text, size_t max_width);

}  // namespace batchd::client
