// The parking lot: tasks kept PENDING because their executor had no free capacity, per
// executor, highest priority first, then first parked. It answers which task to wake when
// capacity comes back; it never calls back and never touches a batch. Strand only.
//
// A task that stops waiting (it timed out or was cancelled) leaves its entry behind, stale; the
// caller says which entries still wait (`StillWaiting`), and stale ones are skipped and dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/types/span.h"
#include "core/executors/executor.h"

namespace batchd::core {

struct ParkedTask {
  double priority = 0;
  uint64_t order = 0;  // parking order, for ties
  uint64_t batch_seq = 0;
  uint32_t task = 0;
};

class ParkingLot {
 public:
  // Whether the task of an entry still waits parked (reads the caller's state, changes none).
  using StillWaiting = absl::FunctionRef<bool(const ParkedTask&)>;

  // The task waits for a free slot of `executor`.
  void Park(const Executor& executor, uint64_t batch_seq, uint32_t task, double priority,
            StillWaiting still_waiting);
  // A task parked for `executor` stopped waiting (it timed out or was cancelled).
  void Leave(const Executor& executor);
  // The best task still waiting for `executor`, which no longer waits; nullopt when none.
  std::optional<ParkedTask> Wake(const Executor& executor, StillWaiting still_waiting);
  // Every task still waiting for `executor` (stale entries dropped), in no particular order;
  // valid until the next Park.
  absl::Span<const ParkedTask> Waiting(const Executor& executor, StillWaiting still_waiting);

  size_t waiting() const { return waiting_; }  // tasks, over every executor
  size_t waiting(const Executor& executor) const;
  size_t entries(const Executor& executor) const;  // including stale ones (for tests)

 private:
  struct Lot {
    std::vector<ParkedTask> heap;
    size_t waiting = 0;  // entries whose task still waits parked (one each); the rest are stale
  };
  static void Compact(std::vector<ParkedTask>& heap, StillWaiting still_waiting);

  // An executor has an entry only while a task waits in it, and that task's unfinished batch
  // holds the executor: a key never outlives its executor (worker executors are destroyed once
  // nothing holds them, and another could take the address).
  absl::flat_hash_map<const Executor*, Lot> lots_;
  uint64_t next_order_ = 0;
  size_t waiting_ = 0;
};

}  // namespace batchd::core
