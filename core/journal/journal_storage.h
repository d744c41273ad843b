// What GroupCommitJournal stores through: one group of records per transaction, all or nothing.
// Not thread-safe: driven from the journal's writer thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/journal/journal.h"

namespace batchd::core {

class JournalStorage {
 public:
  virtual ~JournalStorage() = default;

  // Writes one group in one transaction: new batches, then event chunks, then forgotten
  // batches, then limit records in order (a later record of a key replaces an earlier one),
  // then cache records in order. On error nothing of the group is stored.
  virtual absl::Status Write(const std::vector<BatchRecord>& batches,
                             const std::vector<EventChunk>& chunks,
                             const std::vector<uint64_t>& forgotten,
                             const std::vector<LimitRecord>& limits,
                             const std::vector<CacheRecord>& cache) = 0;
  // A small write that leaves nothing behind: OK when the storage takes writes (again).
  virtual absl::Status Probe() = 0;
};

}  // namespace batchd::core
