#include "core/scheduling/batch_table.h"

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

std::vector<BatchTable::BatchPtr> BatchTable::Unfinished() const {
  std::vector<BatchPtr> out;
  for (const auto& [seq, batch] : by_seq_) {
    if (!batch->finished()) out.push_back(batch);
  }
  return out;
}

}  // namespace batchd::core
