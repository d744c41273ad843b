#include "core/scheduling/runnable_ring.h"

#include <utility>

namespace batchd::core {

void RunnableRing::Add(const BatchPtr& batch) {
  if (!batch->in_prepare_ring && batch->CanPrepare()) {
    batch->in_prepare_ring = true;
    preparing_.push_back(batch);
  }
  if (batch->in_runnable_ring || !batch->CanStart()) return;
  batch->in_runnable_ring = true;
  ring_.push_back(batch);
}

RunnableRing::BatchPtr RunnableRing::Next() {
  while (!ring_.empty()) {
    BatchPtr batch = std::move(ring_.front());
    ring_.pop_front();
    batch->in_runnable_ring = false;
    if (batch->CanStart()) return batch;
  }
  return nullptr;
}

RunnableRing::BatchPtr RunnableRing::NextToPrepare() {
  while (!preparing_.empty()) {
    BatchPtr batch = std::move(preparing_.front());
    preparing_.pop_front();
    batch->in_prepare_ring = false;
    if (batch->CanPrepare()) return batch;
  }
  return nullptr;
}

}  // namespace batchd::core
