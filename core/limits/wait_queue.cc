#include "core/limits/wait_queue.h"

#include <utility>

namespace batchd::core {

void WaitQueue::Push(double priority, QueuedTask task) {
  Level& level = levels_[priority];
  Lane& lane = level.lanes[task.batch];
  if (lane.tasks.empty()) {
    lane.batch = task.batch;
    level.turns.push_back(&lane);
  }
  lane.tasks.push_back(task);
  ++size_;
}

const QueuedTask& WaitQueue::Front() const {
  return levels_.begin()->second.turns.front()->tasks.front();
}

void WaitQueue::PopServed() { PopFront(/*rotate=*/true); }
void WaitQueue::PopSkipped() { PopFront(/*rotate=*/false); }

void WaitQueue::PopFront(bool rotate) {
  Level& level = levels_.begin()->second;
  Lane* lane = level.turns.front();
  lane->tasks.pop_front();
  --size_;
  if (lane->tasks.empty()) {
    level.turns.pop_front();
    level.lanes.erase(lane->batch);
  } else if (rotate) {
    level.turns.pop_front();
    level.turns.push_back(lane);
  }
  if (level.turns.empty()) levels_.erase(levels_.begin());  // `level` is gone
}

void WaitQueue::EraseIf(absl::FunctionRef<bool(const QueuedTask&)> stale) {
  size_ = 0;
  for (auto& [priority, level] : levels_) {
    std::deque<Lane*> turns;
    for (Lane* lane : level.turns) {
      std::erase_if(lane->tasks, [&](const QueuedTask& t) { return stale(t); });
      if (lane->tasks.empty()) {
        level.lanes.erase(lane->batch);
        continue;
      }
      size_ += lane->tasks.size();
      turns.push_back(lane);
    }
    level.turns = std::move(turns);
  }
  std::erase_if(levels_, [](const auto& entry) { return entry.second.turns.empty(); });
}

}  // namespace batchd::core
