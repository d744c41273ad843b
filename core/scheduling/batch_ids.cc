#include "core/scheduling/batch_ids.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace batchd::core {

BatchIdIssuer::Issued BatchIdIssuer::Next() {
  absl::MutexLock lock(&mu_);
  Issued issued;
  issued.seq = next_seq_++;
  issued.id =
      absl::StrFormat("%08x%08x", static_cast<uint32_t>(rng_()), static_cast<uint32_t>(issued.seq));
  return issued;
}

void BatchIdIssuer::Restored(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  next_seq_ = std::max(next_seq_, seq + 1);
}

}  // namespace batchd::core
