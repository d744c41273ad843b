#include "core/scheduling/finished_batches.h"

#include <iterator>
#include <utility>

namespace batchd::core {

void FinishedBatches::AddRecovered(std::shared_ptr<Batch> batch) {
  // Recovered batches come in admission order, not finish order.
  auto pos = by_finish_.end();
  while (pos != by_finish_.begin() &&
         (*std::prev(pos))->finished_steady() > batch->finished_steady()) {
    --pos;
  }
  by_finish_.insert(pos, std::move(batch));
}

std::shared_ptr<Batch> FinishedBatches::PopExpired(SteadyTime now) {
  if (by_finish_.empty()) return nullptr;
  const bool too_many = by_finish_.size() > max_batches_;
  const bool too_old = now - by_finish_.front()->finished_steady() >= retention_;
  if (!too_many && !too_old) return nullptr;
  std::shared_ptr<Batch> oldest = std::move(by_finish_.front());
  by_finish_.pop_front();
  return oldest;
}

std::optional<SteadyTime> FinishedBatches::NextExpiry() const {
  if (by_finish_.empty()) return std::nullopt;
  return by_finish_.front()->finished_steady() + retention_;
}

}  // namespace batchd::core
