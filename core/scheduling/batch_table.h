// The scheduler's batches from admission until their retention ends, by sequence (creation
// order) and by id, and the stale-attempt check that finds a batch by an attempt's token.
// Strand only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/executors/executor.h"
#include "core/model/batch_listing.h"
#include "core/model/task_result.h"
#include "core/scheduling/batch.h"

namespace batchd::core {

class BatchTable {
 public:
  using BatchPtr = std::shared_ptr<Batch>;
  using BySeq = std::map<uint64_t, BatchPtr>;

  // Adds `batch`; sequences and ids are unique (a second batch under a listed one is not found
  // by it).
  void Add(BatchPtr batch);
  // Drops the batch listed under `batch`'s sequence and id; nothing when none is.
  void Remove(const Batch& batch);
  // nullptr for unknown ids and sequences.
  BatchPtr Find(const std::string& id) const;
  BatchPtr Find(uint64_t seq) const;
  // The batch of `token` while its task is still in `state` in that attempt, else nullptr
  // (also for a task the batch does not have).
  BatchPtr Current(const AttemptToken& token, TaskState state) const;

  // Progress of the newest `limit` batches (0 = all), newest first.
  std::vector<BatchProgress> List(size_t limit) const;
  // The batches `query` selects, newest first: each is matched by state and labels without
  // copying anything, and only those on the page are snapshot (BatchProgress). Paging by
  // creation sequence keeps pages exact while batches are added (newer: never on a later
  // page) or retired (simply gone) between them.
  BatchPage List(const BatchListQuery& query) const;
  // Batches not finished yet, oldest first.
  std::vector<BatchPtr> Unfinished() const;
  // Every batch, oldest first.
  const BySeq& by_seq() const { return by_seq_; }
  size_t size() const { return by_seq_.size(); }

 private:
  BySeq by_seq_;
  absl::flat_hash_map<std::string, uint64_t> seq_by_id_;
};

}  // namespace batchd::core
