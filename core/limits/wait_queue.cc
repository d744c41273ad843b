#include "core/limits/wait_queue.h"

#include <algorithm>
#include <utility>

namespace batchd::core {

void WaitQueue::Push(double priority, QueuedTask task) {
  auto it = std::find_if(levels_.begin(), levels_.end(),
                         [&](const Level& l) { return l.priority <= priority; });
  if (it == levels_.end() || it->priority != priority) {
    it = levels_.insert(it, Level{});
    it->priority = priority;
  }
  std::deque<QueuedTask>& mine = it->batches[task.batch];
  if (mine.empty()) it->turns.push_back(task.batch);
  mine.push_back(task);
  ++size_;
}

const QueuedTask& WaitQueue::Front() const {
  const Level& level = levels_.front();
  return level.batches.find(level.turns.front())->second.front();
}

void WaitQueue::PopServed() { PopFront(/*rotate=*/true); }
void WaitQueue::PopSkipped() { PopFront(/*rotate=*/false); }

void WaitQueue::PopFront(bool rotate) {
  Level& level = levels_.front();
  const uint64_t batch = level.turns.front();
  auto it = level.batches.find(batch);
  it->second.pop_front();
  --size_;
  if (it->second.empty()) {
    level.batches.erase(it);
    level.turns.pop_front();
  } else if (rotate) {
    level.turns.pop_front();
    level.turns.push_back(batch);
  }
  if (level.turns.empty()) levels_.erase(levels_.begin());
}

void WaitQueue::EraseIf(absl::FunctionRef<bool(const QueuedTask&)> stale) {
  size_ = 0;
  for (Level& level : levels_) {
    std::deque<uint64_t> turns;
    for (uint64_t batch : level.turns) {
      auto it = level.batches.find(batch);
      std::erase_if(it->second, [&](const QueuedTask& t) { return stale(t); });
      if (it->second.empty()) {
        level.batches.erase(it);
        continue;
      }
      size_ += it->second.size();
      turns.push_back(batch);
    }
    level.turns = std::move(turns);
  }
  std::erase_if(levels_, [](const Level& l) { return l.turns.empty(); });
}

}  // namespace batchd::core
