// Issues batch identities: a sequence number (creation order, never reused in a process, kept
// above every batch recovered from the journal) and an id of 16 hex digits, unique within the
// process (its low half is the sequence) and unlikely to repeat across restarts (its high half
// is random). Thread-safe: Submit issues on RPC threads.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace batchd::core {

class BatchIdIssuer {
 public:
  struct Issued {
    uint64_t seq = 0;
    std::string id;
  };

  BatchIdIssuer() : rng_(std::random_device{}()) {}
  // A fixed seed makes the random halves repeat (for tests).
  explicit BatchIdIssuer(uint64_t seed) : rng_(seed) {}

  // The next identity; sequences start at 1.
  Issued Next() ABSL_LOCKS_EXCLUDED(mu_);
  // Recovery: `seq` was issued before the restart; every later identity comes after it.
  void Restored(uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::core
