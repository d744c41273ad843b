// A core::WorkerConnection that records what the hub sends a worker (registration answer,
// assignments, cancels, the closing status) for tests to inspect. Thread-safe: every method
// takes the one mutex, and readers get copies.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/workers/worker_connection.h"

namespace batchd::testing {

class FakeWorkerConnection final : public core::WorkerConnection {
 public:
  struct Registered {
    std::string worker_id;
    uint32_t heartbeat_interval_ms = 0;
  };
  struct Cancel {
    std::string assignment_id;
    std::string reason;
  };

  void SendRegistered(std::string worker_id, uint32_t heartbeat_interval_ms) override {
    absl::MutexLock lock(&mu_);
    registered_.push_back({std::move(worker_id), heartbeat_interval_ms});
  }
  void SendAssignment(core::WorkerAssignment assignment) override {
    absl::MutexLock lock(&mu_);
    assignments_.push_back(std::move(assignment));
  }
  void SendCancel(std::string assignment_id, std::string reason) override {
    absl::MutexLock lock(&mu_);
    cancels_.push_back({std::move(assignment_id), std::move(reason)});
  }
  void Close(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    closes_.push_back(std::move(status));
  }

  std::vector<Registered> registered() const {
    absl::MutexLock lock(&mu_);
    return registered_;
  }
  // The worker id of the (single) registration answer, or "" when none was sent.
  std::string worker_id() const {
    absl::MutexLock lock(&mu_);
    return registered_.empty() ? std::string() : registered_.back().worker_id;
  }
  std::vector<core::WorkerAssignment> assignments() const {
    absl::MutexLock lock(&mu_);
    return assignments_;
  }
  size_t assignment_count() const {
    absl::MutexLock lock(&mu_);
    return assignments_.size();
  }
  core::WorkerAssignment last_assignment() const {
    absl::MutexLock lock(&mu_);
    return assignments_.empty() ? core::WorkerAssignment{} : assignments_.back();
  }
  std::vector<Cancel> cancels() const {
    absl::MutexLock lock(&mu_);
    return cancels_;
  }
  // Every Close the hub made (a connection should be closed at most once).
  std::vector<absl::Status> closes() const {
    absl::MutexLock lock(&mu_);
    return closes_;
  }
  std::optional<absl::Status> close_status() const {
    absl::MutexLock lock(&mu_);
    if (closes_.empty()) return std::nullopt;
    return closes_.front();
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Registered> registered_ ABSL_GUARDED_BY(mu_);
  std::vector<core::WorkerAssignment> assignments_ ABSL_GUARDED_BY(mu_);
  std::vector<Cancel> cancels_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> closes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::testing
