// The round-robin ring of batches that can start a task: each turn of the ring starts one task
// of the batch in front, which then goes to the back, so batches share max_running fairly. A
// batch is in the ring at most once (Batch::in_runnable_ring); one that can no longer start
// when its turn comes is dropped. Strand only.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>

#include "core/scheduling/batch.h"

namespace batchd::core {

class RunnableRing {
 public:
  using BatchPtr = std::shared_ptr<Batch>;

  // Queues `batch` at the back when it can start a task and is not queued already; likewise in
  // the preparation ring when it has ready tasks to prepare (which needs no slot).
  void Add(const BatchPtr& batch);
  // The first batch with a task to prepare, out of that ring; nullptr when none has.
  BatchPtr NextToPrepare();
  // Takes the first batch that can start a task out of the ring (dropping those that cannot
  // any more); nullptr when none can.
  BatchPtr Next();
  size_t size() const { return ring_.size(); }

 private:
  std::deque<BatchPtr> ring_;
  std::deque<BatchPtr> preparing_;
};

}  // namespace batchd::core
