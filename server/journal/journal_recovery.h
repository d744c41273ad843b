// Start-up recovery: turns the batches read back from the journal into scheduler batches
// again (decoding each stored request), before the daemon serves. Call from main's thread.
#pragma once

#include <cstddef>
#include <vector>

#include "core/journal/journal.h"
#include "core/scheduling/scheduler.h"

namespace batchd::server {

struct RecoveryCounts {
  size_t restored = 0;
  size_t failed = 0;  // left in the journal: a later start with the right setup recovers them
};

// Logs every batch that cannot be restored, with why.
RecoveryCounts RecoverBatches(std::vector<core::StoredBatch> stored, core::Scheduler& scheduler);

}  // namespace batchd::server
