// The tasks waiting on one key, best first: higher priority first; within a priority, round-
// robin between batches (each batch first come, first served), so a batch of 10,000 tasks
// cannot starve a batch of 3. Strand only.
//
// Entries are never removed from the middle: a task that stops waiting leaves its entry, and
// the owner (LimitTable) knows it by its ticket, skips it at the front and compacts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"

namespace batchd::core {

struct QueuedTask {
  uint64_t batch = 0;
  uint32_t waiter = 0;  // the owner's handle of the waiting task
  uint32_t ticket = 0;  // the owner's: tells a live entry from a stale one
};

class WaitQueue {
 public:
  void Push(double priority, QueuedTask task);

  bool empty() const { return levels_.empty(); }
  size_t size() const { return size_; }  // entries, stale ones included
  // The best entry and its priority; require !empty().
  const QueuedTask& Front() const;
  double FrontPriority() const { return levels_.front().priority; }

  // Removes the front; its batch has had its turn and goes behind the other batches of its
  // priority.
  void PopServed();
  // Removes the front without spending its batch's turn (the entry was stale, or its task now
  // waits on another key).
  void PopSkipped();
  // Drops every entry `stale` says, keeping the order of the rest.
  void EraseIf(absl::FunctionRef<bool(const QueuedTask&)> stale);

 private:
  struct Level {
    double priority = 0;
    std::deque<uint64_t> turns;  // batches with entries, the one whose turn it is first
    absl::flat_hash_map<uint64_t, std::deque<QueuedTask>> batches;
  };
  void PopFront(bool rotate);

  std::vector<Level> levels_;  // highest priority first; none empty
  size_t size_ = 0;
};

}  // namespace batchd::core
