#include "core/scheduling/task_output_log.h"

#include <algorithm>
#include <utility>

namespace batchd::core {

void TaskOutputLog::Append(std::string chunk) {
  if (chunk.empty()) return;
  const size_t size = chunk.size();
  chunks_.push_back({end_, std::move(chunk)});
  end_ += size;
  kept_ += size;
  // The newest chunk always stays, even when it alone is over the bound.
  while (kept_ > max_bytes_ && chunks_.size() > 1) {
    kept_ -= chunks_.front().data.size();
    chunks_.pop_front();
  }
}

namespace {

// Drops an incomplete UTF-8 sequence at the end of `text` (a slice cut at a byte bound): the
// reader gets it whole with the next slice.
void TrimPartialUtf8(std::string& text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
    if (length > back) text.resize(n - back);
    return;
  }
}

}  // namespace

TaskOutputLog::Slice TaskOutputLog::Read(uint64_t after_offset, size_t max_bytes) const {
  Slice slice;
  const uint64_t from = std::max(after_offset, first_kept());
  slice.offset = std::min(from, end_);
  slice.dropped = from - std::min(after_offset, from);
  // The first chunk holding `from`: chunks are in offset order.
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), from,
                             [](uint64_t offset, const Chunk& c) { return offset < c.offset; });
  if (it != chunks_.begin()) --it;
  for (; it != chunks_.end() && slice.data.size() < max_bytes; ++it) {
    const uint64_t chunk_end = it->offset + it->data.size();
    if (chunk_end <= from) continue;
    const size_t skip = from > it->offset ? static_cast<size_t>(from - it->offset) : 0;
    const size_t take = std::min(it->data.size() - skip, max_bytes - slice.data.size());
    slice.data.append(it->data, skip, take);
  }
  if (slice.data.size() == max_bytes) TrimPartialUtf8(slice.data);
  return slice;
}

}  // namespace batchd::core
