// Whether a submitted batch was accepted: resolved once, when its journal record is durable
// (OK) or could not be stored (the batch never runs). Shared by the submission and any twin
// submission with the same request_id. Thread-safe: resolved from the journal's thread, waited
// on from RPC threads.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace batchd::core {

class Admission {
 public:
  using Waiter = absl::AnyInvocable<void(absl::Status)>;

  // An admission that is already decided (no journal, or a batch recovered from it).
  static std::shared_ptr<Admission> Decided(absl::Status status) {
    auto admission = std::make_shared<Admission>();
    admission->Resolve(std::move(status));
    return admission;
  }

  // Calls every waiter with `status`; later calls are ignored.
  void Resolve(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<Waiter> waiters;
    {
      absl::MutexLock lock(&mu_);
      if (status_.has_value()) return;
      status_ = status;
      waiters.swap(waiters_);
    }
    for (Waiter& w : waiters) w(status);
  }

  // Calls `done` once resolved (at once, on this thread, when it already is).
  void WhenResolved(Waiter done) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (!status_.has_value()) {
        waiters_.push_back(std::move(done));
        return;
      }
      status = *status_;
    }
    done(std::move(status));
  }

 private:
  absl::Mutex mu_;
  std::optional<absl::Status> status_ ABSL_GUARDED_BY(mu_);
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::core
