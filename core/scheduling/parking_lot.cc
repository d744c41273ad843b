#include "core/scheduling/parking_lot.h"

#include <algorithm>
#include <bit>

namespace batchd::core {
namespace {

// Heap order: std heaps keep the greatest on top, so "less" means "later".
bool ParkedAfter(const ParkedTask& a, const ParkedTask& b) {
  if (a.priority != b.priority) return a.priority < b.priority;
  return a.order > b.order;
}

}  // namespace

void ParkingLot::Park(const Executor& executor, uint64_t batch_seq, uint32_t task, double priority,
                      StillWaiting still_waiting) {
  Lot& lot = lots_[&executor];
  ++lot.waiting;
  ++waiting_;
  std::vector<ParkedTask>& heap = lot.heap;
  heap.push_back({priority, next_order_++, batch_seq, task});
  std::push_heap(heap.begin(), heap.end(), ParkedAfter);
  // Stale entries stay until popped (or until none waits and the whole lot goes); drop them
  // whenever the heap doubles so an executor that never gets a worker does not grow forever.
  if (heap.size() >= 1024 && std::has_single_bit(heap.size())) Compact(heap, still_waiting);
}

void ParkingLot::Leave(const Executor& executor) {
  auto it = lots_.find(&executor);
  if (it == lots_.end()) return;
  --waiting_;
  if (--it->second.waiting == 0) lots_.erase(it);
}

std::optional<ParkedTask> ParkingLot::Wake(const Executor& executor, StillWaiting still_waiting) {
  auto it = lots_.find(&executor);
  if (it == lots_.end()) return std::nullopt;
  std::vector<ParkedTask>& heap = it->second.heap;
  std::optional<ParkedTask> woken;
  while (!woken.has_value() && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), ParkedAfter);
    if (still_waiting(heap.back())) woken = heap.back();
    heap.pop_back();
  }
  if (!woken.has_value()) {  // only stale entries were left
    waiting_ -= it->second.waiting;
    lots_.erase(it);
    return std::nullopt;
  }
  --waiting_;
  if (--it->second.waiting == 0) lots_.erase(it);
  return woken;
}

absl::Span<const ParkedTask> ParkingLot::Waiting(const Executor& executor,
                                                 StillWaiting still_waiting) {
  auto it = lots_.find(&executor);
  if (it == lots_.end()) return {};
  Compact(it->second.heap, still_waiting);
  return it->second.heap;
}

size_t ParkingLot::waiting(const Executor& executor) const {
  auto it = lots_.find(&executor);
  return it == lots_.end() ? 0 : it->second.waiting;
}

size_t ParkingLot::entries(const Executor& executor) const {
  auto it = lots_.find(&executor);
  return it == lots_.end() ? 0 : it->second.heap.size();
}

void ParkingLot::Compact(std::vector<ParkedTask>& heap, StillWaiting still_waiting) {
  std::erase_if(heap, [&](const ParkedTask& p) { return !still_waiting(p); });
  std::make_heap(heap.begin(), heap.end(), ParkedAfter);
}

}  // namespace batchd::core
