#include "client/worker/worker_outbox.h"

#include <utility>

namespace batchd::client {

WorkerOutbox::WorkerOutbox(size_t max_batch_bytes) : max_batch_bytes_(max_batch_bytes) {}

bool WorkerOutbox::Track(const std::string& assignment_id) {
  absl::MutexLock lock(&mu_);
  if (close_requested_ || closed_) return false;
  return in_flight_.try_emplace(assignment_id).second;
}

bool WorkerOutbox::Complete(const std::string& assignment_id, v1::TaskOutcome outcome) {
  outcome.set_assignment_id(assignment_id);
  const size_t bytes = outcome.ByteSizeLong();
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  const auto it = in_flight_.find(assignment_id);
  if (it == in_flight_.end()) return false;
  if (it->second.cancel_requested) queued_.add_cancel_acks(assignment_id);
  in_flight_.erase(it);
  *queued_.add_outcomes() = std::move(outcome);
  queued_outcome_bytes_ += bytes;
  return true;
}

WorkerOutbox::CancelAction WorkerOutbox::RequestCancel(const std::string& assignment_id) {
  absl::MutexLock lock(&mu_);
  if (closed_) return CancelAction::kIgnored;
  const auto it = in_flight_.find(assignment_id);
  if (it == in_flight_.end()) {
    queued_.add_cancel_acks(assignment_id);
    return CancelAction::kAcked;
  }
  if (it->second.cancel_requested) return CancelAction::kIgnored;
  it->second.cancel_requested = true;
  return CancelAction::kForwardToHandler;
}

bool WorkerOutbox::HasQueued() const {
  return queued_.outcomes_size() > 0 || queued_.cancel_acks_size() > 0 ||
         queued_.outputs_size() > 0;
}

bool WorkerOutbox::Output(const std::string& assignment_id, std::string data) {
  absl::MutexLock lock(&mu_);
  if (closed_ || !in_flight_.contains(assignment_id)) return false;
  v1::TaskOutputChunk* chunk = queued_.add_outputs();
  chunk->set_assignment_id(assignment_id);
  chunk->set_data(std::move(data));
  return true;
}

WorkerOutbox::TakeResult WorkerOutbox::Take(absl::Time deadline, v1::ConnectRequest& request) {
  absl::MutexLock lock(&mu_);
  const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return HasQueued() || close_requested_ || closed_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (closed_) return TakeResult::kClosed;
  request.mutable_cancel_acks()->Swap(queued_.mutable_cancel_acks());
  request.mutable_outputs()->Swap(queued_.mutable_outputs());  // the daemon reads them first
  MoveOutcomes(request);
  return close_requested_ && !HasQueued() ? TakeResult::kFlushed : TakeResult::kOpen;
}

void WorkerOutbox::MoveOutcomes(v1::ConnectRequest& request) {
  if (queued_outcome_bytes_ <= max_batch_bytes_) {
    request.mutable_outcomes()->Swap(queued_.mutable_outcomes());
    queued_outcome_bytes_ = 0;
    return;
  }
  // Rare: more than a batch is queued. Take whole outcomes from the front up to the limit.
  size_t count = 0;
  size_t bytes = 0;
  while (count < static_cast<size_t>(queued_.outcomes_size())) {
    const size_t next = queued_.outcomes(static_cast<int>(count)).ByteSizeLong();
    if (count > 0 && bytes + next > max_batch_bytes_) break;
    bytes += next;
    ++count;
  }
  auto* queued = queued_.mutable_outcomes();
  auto* taken = request.mutable_outcomes();
  for (size_t i = 0; i < count; ++i) taken->Add(std::move(*queued->Mutable(static_cast<int>(i))));
  queued->DeleteSubrange(0, static_cast<int>(count));
  queued_outcome_bytes_ -= bytes;
}

void WorkerOutbox::RequestClose() {
  absl::MutexLock lock(&mu_);
  close_requested_ = true;
}

bool WorkerOutbox::close_requested() const {
  absl::MutexLock lock(&mu_);
  return close_requested_;
}

std::vector<std::string> WorkerOutbox::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  std::vector<std::string> to_cancel;
  for (const auto& [assignment_id, state] : in_flight_) {
    if (!state.cancel_requested) to_cancel.push_back(assignment_id);
  }
  in_flight_.clear();
  queued_.Clear();
  queued_outcome_bytes_ = 0;
  return to_cancel;
}

bool WorkerOutbox::AwaitClosed(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&closed_), timeout);
}

size_t WorkerOutbox::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_.size();
}

}  // namespace batchd::client
