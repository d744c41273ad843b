#include "core/time/timer_queue.h"

namespace batchd::core {

TimerId TimerQueue::Add(SteadyTime at, absl::AnyInvocable<void()> handler) {
  TimerId id = next_id_++;
  heap_.push({at, id});
  handlers_.emplace(id, std::move(handler));
  return id;
}

void TimerQueue::Cancel(TimerId id) {
  handlers_.erase(id);
  // Cancelled entries leave the heap lazily; rebuild it when they dominate, so long timeouts
  // cancelled at a high rate cannot grow it without bound. Amortised O(1) per cancel.
  if (heap_.size() > 1024 && heap_.size() > 4 * handlers_.size()) Compact();
}

void TimerQueue::Compact() {
  std::vector<Entry> live;
  live.reserve(handlers_.size());
  while (!heap_.empty()) {
    if (handlers_.contains(heap_.top().id)) live.push_back(heap_.top());
    heap_.pop();
  }
  heap_ = decltype(heap_)(std::greater<>(), std::move(live));
}

void TimerQueue::DropCancelledTop() {
  while (!heap_.empty() && !handlers_.contains(heap_.top().id)) heap_.pop();
}

std::optional<SteadyTime> TimerQueue::NextDeadline() {
  DropCancelledTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().at;
}

std::optional<absl::AnyInvocable<void()>> TimerQueue::PopDue(SteadyTime now) {
  DropCancelledTop();
  if (heap_.empty() || heap_.top().at > now) return std::nullopt;
  auto it = handlers_.find(heap_.top().id);
  heap_.pop();
  absl::AnyInvocable<void()> handler = std::move(it->second);
  handlers_.erase(it);
  return handler;
}

}  // namespace batchd::core
