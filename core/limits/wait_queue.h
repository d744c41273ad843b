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
#include <functional>
#include <map>

#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"

namespace batchd::core {

struct QueuedTask {
  uint64_t batch = 0;
  uint32_t waiter = 0;  // the owner's handle of the waiting task
  uint32_t ticket = 0;  // the owner's: tells a live entry from a stale one
};

class WaitQueue {
 public:
  WaitQueue() = default;
  // Move only: turns point at lanes, which stay put when the queue moves but not when copied.
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;
  WaitQueue(WaitQueue&&) = default;
  WaitQueue& operator=(WaitQueue&&) = default;

  void Push(double priority, QueuedTask task);

  bool empty() const { return levels_.empty(); }
  size_t size() const { return size_; }  // entries, stale ones included
  // The best entry and its priority; require !empty().
  const QueuedTask& Front() const;
  double FrontPriority() const { return levels_.begin()->first; }

  // Removes the front; its batch has had its turn and goes behind the other batches of its
  // priority.
  void PopServed();
  // Removes the front without spending its batch's turn (the entry was stale, or its task now
  // waits on another key).
  void PopSkipped();
  // Drops every entry `stale` says, keeping the order of the rest.
  void EraseIf(absl::FunctionRef<bool(const QueuedTask&)> stale);

 private:
  struct Lane {
    uint64_t batch = 0;
    std::deque<QueuedTask> tasks;
  };
  struct Level {
    std::deque<Lane*> turns;  // lanes with entries, the one whose turn it is first
    // Node-based, so `turns` can point at lanes: the front is reached without hashing.
    absl::node_hash_map<uint64_t, Lane> lanes;
  };
  void PopFront(bool rotate);

  // By priority, highest first; none empty. Node-based: a level never moves.
  std::map<double, Level, std::greater<>> levels_;
  size_t size_ = 0;
};

}  // namespace batchd::core
