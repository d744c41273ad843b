#include "core/scheduling/batch_table.h"

#include <algorithm>
#include <utility>

namespace batchd::core {

void BatchTable::Add(BatchPtr batch) {
  const uint64_t seq = batch->seq();
  seq_by_id_.emplace(batch->id(), seq);
  by_seq_.emplace(seq, std::move(batch));
}

void BatchTable::Remove(const Batch& batch) {
  seq_by_id_.erase(batch.id());
  by_seq_.erase(batch.seq());
}

BatchTable::BatchPtr BatchTable::Find(const std::string& id) const {
  auto it = seq_by_id_.find(id);
  if (it == seq_by_id_.end()) return nullptr;
  return by_seq_.at(it->second);
}

BatchTable::BatchPtr BatchTable::Find(uint64_t seq) const {
  auto it = by_seq_.find(seq);
  return it == by_seq_.end() ? nullptr : it->second;
}

BatchTable::BatchPtr BatchTable::Current(const AttemptToken& token, TaskState state) const {
  auto it = by_seq_.find(token.batch_seq);
  if (it == by_seq_.end() || token.task >= it->second->size()) return nullptr;
  if (!it->second->IsCurrent(token.task, state, token.generation)) return nullptr;
  return it->second;
}

std::vector<BatchProgress> BatchTable::List(size_t limit) const {
  std::vector<BatchProgress> out;
  for (auto it = by_seq_.rbegin(); it != by_seq_.rend(); ++it) {
    if (limit != 0 && out.size() >= limit) break;
    out.push_back(it->second->Progress());
  }
  return out;
}

BatchPage BatchTable::List(const BatchListQuery& query) const {
  BatchPage page;
  const bool paged = query.page_size > 0;
  const size_t room = paged ? query.page_size : query.limit;  // 0 = unbounded (unpaged only)
  bool more = false;
  uint64_t last_seq = 0;
  for (auto it = by_seq_.rbegin(); it != by_seq_.rend(); ++it) {
    const Batch& batch = *it->second;
    if (!query.states.empty() &&
        std::find(query.states.begin(), query.states.end(), batch.state()) == query.states.end()) {
      continue;
    }
    if (!query.selector.Matches(batch.labels())) continue;
    ++page.total_size;
    if (query.before_seq.has_value() && it->first >= *query.before_seq) continue;
    if (room == 0 || page.batches.size() < room) {
      page.batches.push_back(batch.Progress());
      last_seq = it->first;
    } else {
      more = true;
    }
  }
  if (paged && more) page.next_before_seq = last_seq;
  return page;
}

std::vector<BatchTable::BatchPtr> BatchTable::Unfinished() const {
  std::vector<BatchPtr> out;
  for (const auto& [seq, batch] : by_seq_) {
    if (!batch->finished()) out.push_back(batch);
  }
  return out;
}

}  // namespace batchd::core
