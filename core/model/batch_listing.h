// ListBatches' values: which batches to list (BatchListQuery) and a page of them (BatchPage).
// Plain values; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/model/label_selector.h"
#include "core/model/task_result.h"

namespace batchd::core {

inline constexpr uint32_t kMaxBatchPageSize = 1000;

struct BatchListQuery {
  std::vector<BatchState> states;  // empty: any
  LabelSelector selector;
  // Paged (page_size > 0): at most page_size batches older than `before_seq` (none: from the
  // newest). Unpaged: the newest `limit` that match (0 = all), without a next page.
  size_t limit = 0;
  uint32_t page_size = 0;
  std::optional<uint64_t> before_seq;
};

struct BatchPage {
  std::vector<BatchProgress> batches;  // newest first
  // Paged: the creation sequence the next page starts below; none on the last page.
  std::optional<uint64_t> next_before_seq;
  uint32_t total_size = 0;  // batches that match, over all pages
};

}  // namespace batchd::core
