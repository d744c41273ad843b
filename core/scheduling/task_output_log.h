// The partial output of one task while it runs (a worker's TaskOutputChunk, the shell executor's
// stdout lines): bytes numbered from the task's first chunk on, across its attempts, of which
// the last `max_bytes` are kept (older ones are dropped whole chunks at a time, and a reader
// behind them is told how many it missed). Not journalled. Strand only (it belongs to a Batch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace batchd::core {

class TaskOutputLog {
 public:
  explicit TaskOutputLog(size_t max_bytes) : max_bytes_(max_bytes) {}

  void Append(std::string chunk);

  // What a reader at `after_offset` gets: at most `max_bytes` from where it is (or from the
  // oldest byte kept, `dropped` bytes later), starting at `offset`.
  struct Slice {
    uint64_t offset = 0;
    std::string data;
    uint64_t dropped = 0;
  };
  Slice Read(uint64_t after_offset, size_t max_bytes) const;

  uint64_t end() const { return end_; }  // bytes sent so far
  uint64_t first_kept() const { return end_ - kept_; }

 private:
  struct Chunk {
    uint64_t offset = 0;
    std::string data;
  };
  const size_t max_bytes_;
  std::deque<Chunk> chunks_;
  uint64_t end_ = 0;
  size_t kept_ = 0;
};

}  // namespace batchd::core
