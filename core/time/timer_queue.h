// A min-heap of deadlines with O(1) cancellation (cancelled entries are dropped lazily when
// they reach the top). The data structure behind both the production timer service and
// tests' fake one. Not thread-safe: owned by one strand.
#pragma once

#include <optional>
#include <queue>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/time/timer_service.h"

namespace batchd::core {

class TimerQueue {
 public:
  TimerId Add(SteadyTime at, absl::AnyInvocable<void()> handler);
  void Cancel(TimerId id);

  // The earliest pending deadline, if any.
  std::optional<SteadyTime> NextDeadline();
  // Removes and returns the handler of the earliest timer due at or before `now`, if any.
  // Handlers are taken one at a time so a handler may add or cancel timers safely.
  std::optional<absl::AnyInvocable<void()>> PopDue(SteadyTime now);

  size_t size() const { return handlers_.size(); }
  size_t heap_entries() const { return heap_.size(); }

 private:
  struct Entry {
    SteadyTime at;
    TimerId id;
    // Earliest deadline first; among equal deadlines, the earliest scheduled first.
    bool operator>(const Entry& o) const { return at != o.at ? at > o.at : id > o.id; }
  };
  void DropCancelledTop();
  void Compact();

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  absl::flat_hash_map<TimerId, absl::AnyInvocable<void()>> handlers_;
  TimerId next_id_ = 1;
};

}  // namespace batchd::core
