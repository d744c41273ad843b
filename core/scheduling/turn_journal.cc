#include "core/scheduling/turn_journal.h"

#include <algorithm>
#include <utility>

namespace batchd::core {

std::string* TurnJournal::Events(const std::shared_ptr<Batch>& batch) {
  if (journal_ == nullptr || stopped_) return nullptr;
  if (!batch->in_journal_list) {
    batch->in_journal_list = true;
    dirty_.push_back(batch);
  }
  return &batch->journal_events();
}

void TurnJournal::Result(const std::shared_ptr<Batch>& batch, const TaskResult& result) {
  std::string* events = Events(batch);
  if (events == nullptr) return;
  batch->journal_results().push_back({events->size(), &result});
}

void TurnJournal::Flush() {
  if (dirty_.empty()) return;
  std::vector<EventChunk> chunks;
  chunks.reserve(dirty_.size());
  for (const std::shared_ptr<Batch>& batch : dirty_) {
    batch->in_journal_list = false;
    std::string events = std::exchange(batch->journal_events(), {});
    // The next turn's chunk is about as big: reserving (up to 64 KiB) saves regrowing the
    // string from empty (~2 % of the daemon's samples in the no-op benchmark).
    if (!batch->finished()) {
      batch->journal_events().reserve(std::min<size_t>(events.size(), 64 << 10));
    }
    EventChunk& chunk = chunks.emplace_back();
    chunk.batch_seq = batch->seq();
    chunk.events = std::move(events);
    chunk.results.swap(batch->journal_results());
    if (!chunk.results.empty()) chunk.keep_alive = batch;
    chunk.visible_results = batch->visible_count();
    chunk.finished = batch->finished();
    chunk.number = ++batch->chunks_appended;
  }
  dirty_.clear();
  journal_->AppendEvents(std::move(chunks));
}

}  // namespace batchd::core
