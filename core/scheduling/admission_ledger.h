// The admission ledger: which batch each request_id admitted, while that batch is retained, so a
// submission retried with the same request_id finds its batch (a twin) instead of running it
// again, and one with other content under a used request_id is refused. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/scheduling/admission.h"
#include "core/scheduling/batch.h"

namespace batchd::core {

class AdmissionLedger {
 public:
  // The batch a request_id admitted and whether it was accepted.
  struct Twin {
    std::shared_ptr<Batch> batch;
    std::shared_ptr<Admission> admission;
  };
  // A twin when `request_id` admitted a batch of the same content, ALREADY_EXISTS when that
  // batch's content differs, nullopt when the request_id admitted nothing (or is empty).
  using Answer = absl::StatusOr<std::optional<Twin>>;

  Answer Find(const std::string& request_id, std::string_view content) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Records that `batch` admitted its request_id with `content`, unless another batch already
  // did: then answers as Find (atomically, so of two concurrent twins one finds the other).
  Answer Claim(std::shared_ptr<Batch> batch, std::string_view content,
               std::shared_ptr<Admission> admission) ABSL_LOCKS_EXCLUDED(mu_);
  // Recovery: `batch` (accepted before the restart) admitted its request_id with `content`.
  void Restore(std::shared_ptr<Batch> batch, std::string_view content) ABSL_LOCKS_EXCLUDED(mu_);
  // Frees the batch's request_id (its batch was refused or evicted), unless another batch
  // holds it.
  void Forget(const Batch& batch) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    size_t content_hash = 0;
    Twin twin;
  };
  static Answer AnswerFor(const std::string& request_id, const Entry& entry, size_t content_hash);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> by_request_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::core
