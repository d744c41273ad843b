// The bookkeeping of one worker connection: which assignments are in flight, and the outcomes
// and cancel acks waiting to be written, taken in batches by the connection's writer thread.
// Thread-safe: the reader, the writer and any handler thread replying use it concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "batchd/v1/worker_service.pb.h"

namespace batchd::client {

class WorkerOutbox {
 public:
  // What RequestCancel decided.
  enum class CancelAction {
    kForwardToHandler,  // in flight: the handler must stop it; the ack follows its reply
    kAcked,             // not in flight (already answered or unknown): acked at once
    kIgnored,           // cancellation already requested, or the outbox is closed
  };

  // What Take found.
  enum class TakeResult {
    kOpen,     // keep serving (the request may be empty when the deadline passed)
    kFlushed,  // RequestClose was called and nothing is left to write
    kClosed,   // the connection is gone (Close was called)
  };

  // A Write carrying more than `max_batch_bytes` of outcomes is split (but never an outcome),
  // so a burst of large outputs stays below the daemon's message size limit.
  explicit WorkerOutbox(size_t max_batch_bytes = size_t{1} << 20);

  // Records an assignment the reader is about to start. False (do not start it) when it is
  // already in flight, or the outbox is closing or closed.
  bool Track(const std::string& assignment_id) ABSL_LOCKS_EXCLUDED(mu_);

  // The handler's reply: queues `outcome` (its assignment_id set here), and the cancel ack
  // when cancellation was requested. False, and nothing queued, when the assignment is not in
  // flight (a second reply) or the connection is closed.
  bool Complete(const std::string& assignment_id, v1::TaskOutcome outcome) ABSL_LOCKS_EXCLUDED(mu_);

  // Partial output of an assignment in flight (TaskOutputChunk), written before its outcome.
  // False, and nothing queued, when it is not in flight or the connection is closed.
  bool Output(const std::string& assignment_id, std::string data) ABSL_LOCKS_EXCLUDED(mu_);

  CancelAction RequestCancel(const std::string& assignment_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until something is queued, close is requested, the outbox is closed, or `deadline`;
  // then moves the queued acks, outputs and up to max_batch_bytes of outcomes into `request`.
  TakeResult Take(absl::Time deadline, v1::ConnectRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Stop serving: Track refuses new assignments, Take returns kFlushed once all is written.
  void RequestClose() ABSL_LOCKS_EXCLUDED(mu_);
  bool close_requested() const ABSL_LOCKS_EXCLUDED(mu_);

  // The stream has ended: later replies are dropped. Returns the assignments still in flight
  // whose cancellation was not yet forwarded, for the handler to stop.
  std::vector<std::string> Close() ABSL_LOCKS_EXCLUDED(mu_);
  // True once Close was called; false when `timeout` passes first.
  bool AwaitClosed(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  size_t in_flight() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct InFlight {
    bool cancel_requested = false;
  };

  bool HasQueued() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MoveOutcomes(v1::ConnectRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_batch_bytes_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  // Outcomes and acks not yet taken, kept as a request so Take swaps them out in O(1).
  v1::ConnectRequest queued_ ABSL_GUARDED_BY(mu_);
  size_t queued_outcome_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool close_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace batchd::client
