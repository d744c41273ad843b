#include "core/workers/worker_executor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace batchd::core {

WorkerExecutor::~WorkerExecutor() {
  spdlog::info("executor '{}' forgotten: no worker serves it and no unfinished batch names it",
               name_);
}

void WorkerExecutor::Start(const ExecutionRequest& request, CompletionSink& sink) {
  for (size_t i = 0; i < workers_.size(); ++i) candidates_[i].in_flight = workers_[i]->in_flight;
  const std::optional<size_t> pick =
      balancer_.Pick(request.load_balancer, absl::MakeSpan(candidates_));
  if (!pick.has_value()) {
    // The scheduler checks FreeCapacity first; this is only reached by a caller that did not.
    std::string error = workers_.empty()
                            ? Unserved()
                            : absl::StrCat("Every worker serving executor '", name_, "' is busy");
    sink.Complete(request.token, ExecutionOutcome::Failure(std::move(error)));
    return;
  }
  dispatcher_.Dispatch(*workers_[*pick], request, sink);
}

void WorkerExecutor::Cancel(const AttemptToken& token) {
  dispatcher_.CancelAttempt(token, "cancelled by batchd");
}

void WorkerExecutor::CancelBecause(const AttemptToken& token, std::string_view reason) {
  dispatcher_.CancelAttempt(token, reason);
}

uint32_t WorkerExecutor::FreeCapacity() const {
  uint32_t free = 0;
  for (const ConnectedWorker* w : workers_) {
    if (w->in_flight < w->slots) free += w->slots - w->in_flight;
  }
  return free;
}

std::string WorkerExecutor::Unserved() const {
  if (!workers_.empty()) return {};
  return absl::StrCat("No worker serves executor '", name_, "'");
}

void WorkerExecutor::Describe(ExecutorDescription& description) const {
  description.workers = worker_count_.load(std::memory_order_relaxed);
  description.capacity = total_slots_.load(std::memory_order_relaxed);
}

void WorkerExecutor::AddWorker(ConnectedWorker* worker) {
  workers_.push_back(worker);
  BalancerCandidate& c = candidates_.emplace_back();
  c.slots = worker->slots;
  c.weight = worker->weight;
  PublishCounts();
}

void WorkerExecutor::RemoveWorker(ConnectedWorker* worker) {
  auto it = std::find(workers_.begin(), workers_.end(), worker);
  if (it == workers_.end()) return;
  candidates_.erase(candidates_.begin() + (it - workers_.begin()));
  workers_.erase(it);
  PublishCounts();
}

void WorkerExecutor::PublishCounts() {
  uint32_t slots = 0;
  for (const ConnectedWorker* w : workers_) slots += w->slots;
  worker_count_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  total_slots_.store(slots, std::memory_order_relaxed);
}

}  // namespace batchd::core
