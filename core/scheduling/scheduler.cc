#include "core/scheduling/scheduler.h"

#include <algorithm>
#include <bit>
#include <utility>

#include <boost/asio/post.hpp>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

absl::Status BatchNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("Batch '", id, "' not found"));
}

SteadyTime SteadyEquivalent(const Clock& clock, WallTime wall) {
  return clock.SteadyNow() +
         std::chrono::duration_cast<Duration>(wall - clock.WallNow());
}

// The dependencies of one task and the outputs of those that succeeded, read from its batch.
class BatchTaskDependencies final : public TaskDependencies {
 public:
  BatchTaskDependencies(const Batch& batch, uint32_t task)
      : batch_(batch), dependencies_(batch.graph().Dependencies(task)) {}
  size_t size() const override { return dependencies_.size(); }
  std::string_view id(size_t i) const override { return batch_.task_id(dependencies_[i]); }
  const boost::json::value* output(size_t i) const override {
    const TaskResult* r = batch_.result(dependencies_[i]);
    return r != nullptr && r->success() ? &r->output : nullptr;
  }

 private:
  const Batch& batch_;
  absl::Span<const uint32_t> dependencies_;
};

// Heap order for parked tasks: std heaps keep the greatest on top, so "less" means "later".
bool ParkedAfter(const auto& a, const auto& b) {
  if (a.priority != b.priority) return a.priority < b.priority;
  return a.order > b.order;
}

}  // namespace

Scheduler::Scheduler(Strand strand, const Clock& clock, TimerService& timers,
                     ExecutorRegistry& registry, SchedulerOptions options)
    : strand_(strand),
      clock_(clock),
      timers_(timers),
      registry_(registry),
      options_(options),
      observer_(options.observer != nullptr ? *options.observer : no_observer_),
      id_rng_(std::random_device{}()),
      jitter_rng_(std::random_device{}()) {
  if (options_.journal != nullptr) {
    options_.journal->SetDurableListener([this](std::vector<DurableMark> marks) {
      boost::asio::post(strand_, [this, marks = std::move(marks)]() mutable {
        OnDurable(std::move(marks));
      });
    });
  }
}

Scheduler::~Scheduler() {
  // Parked waiters hold their batch; drop them to break the cycle.
  for (auto& [seq, batch] : batches_) batch->change_waiters().clear();
}

absl::StatusOr<SubmitResult> Scheduler::Submit(BatchSpec spec, bool with_layers,
                                               std::string content) {
  if (!spec.request_id.empty()) {
    // A retried submission must find its batch even when the daemon is at its limit.
    absl::MutexLock lock(&requests_mu_);
    auto it = requests_.find(spec.request_id);
    if (it != requests_.end()) {
      return AnswerTwin(spec.request_id, it->second, absl::HashOf(content), with_layers);
    }
  }
  if (active_batches_.fetch_add(1) >= options_.max_active_batches) {
    active_batches_.fetch_sub(1);
    return absl::ResourceExhaustedError(
        absl::StrCat("Too many active batches: the limit is ", options_.max_active_batches,
                     " unfinished batches (--max-active-batches)"));
  }
  absl::StatusOr<SubmitResult> result = Admit(std::move(spec), with_layers, std::move(content));
  if (!result.ok() || result->duplicate) active_batches_.fetch_sub(1);
  return result;
}

SubmitResult Scheduler::Describe(const BatchPtr& batch, bool with_layers) {
  SubmitResult result;
  result.batch_id = batch->id();
  if (with_layers) {
    for (const std::vector<uint32_t>& layer : batch->graph().Layers()) {
      std::vector<std::string_view>& ids = result.layers.emplace_back();
      ids.reserve(layer.size());
      for (uint32_t t : layer) ids.push_back(batch->task_id(t));
    }
  }
  result.keep_alive = batch;
  return result;
}

absl::StatusOr<SubmitResult> Scheduler::AnswerTwin(const std::string& request_id,
                                                   const AdmittedRequest& admitted,
                                                   size_t content_hash, bool with_layers) {
  if (admitted.content_hash != content_hash) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id '", request_id, "' was already used for batch ", admitted.batch->id(),
        " with different content; use a new request_id"));
  }
  SubmitResult result = Describe(admitted.batch, with_layers);
  result.admission = admitted.admission;
  result.duplicate = true;
  return result;
}

void Scheduler::WhenDurable(const SubmitResult& submitted,
                            absl::AnyInvocable<void(absl::Status)> done) {
  if (submitted.admission == nullptr) return done(absl::OkStatus());
  submitted.admission->WhenResolved(std::move(done));
}

absl::StatusOr<SubmitResult> Scheduler::Admit(BatchSpec spec, bool with_layers,
                                              std::string content) {
  Batch::Identity identity;
  {
    absl::MutexLock lock(&id_mu_);
    identity.seq = next_seq_++;
    // Unique within the process (sequence), unlikely to repeat across restarts (random half).
    identity.id = absl::StrFormat("%08x%08x", static_cast<uint32_t>(id_rng_()),
                                  static_cast<uint32_t>(identity.seq));
  }
  identity.created_steady = clock_.SteadyNow();
  identity.created_wall = clock_.WallNow();
  absl::StatusOr<std::shared_ptr<Batch>> created =
      Batch::Create(std::move(spec), registry_, std::move(identity));
  if (!created.ok()) return created.status();
  BatchPtr batch = *std::move(created);
  Journal* const journal = options_.journal;
  SubmitResult result = Describe(batch, with_layers);
  if (journal != nullptr) {
    batch->SetJournaled();
    result.admission = std::make_shared<Admission>();
  }
  if (!batch->request_id().empty()) {
    // Under the lock, so a concurrent twin either finds this batch or is found by it.
    absl::MutexLock lock(&requests_mu_);
    const size_t hash = absl::HashOf(content);
    auto [it, inserted] = requests_.try_emplace(batch->request_id());
    if (!inserted) return AnswerTwin(batch->request_id(), it->second, hash, with_layers);
    it->second = AdmittedRequest{hash, batch, result.admission};
  }
  if (journal == nullptr) {
    boost::asio::post(strand_, [this, b = std::move(batch)]() mutable { AddBatch(std::move(b)); });
    return result;
  }
  // Outside requests_mu_: a refusal may come at once and frees the request_id.
  BatchRecord record{batch->seq(), batch->id(), batch->request_id(), batch->created_wall(),
                     std::move(content)};
  journal->AppendBatch(std::move(record),
                       [this, batch, admission = result.admission](absl::Status stored) {
                         OnRecordStored(batch, admission, std::move(stored));
                       });
  return result;
}

void Scheduler::OnRecordStored(const BatchPtr& batch, const std::shared_ptr<Admission>& admission,
                               absl::Status stored) {
  if (stored.ok()) {
    // Posted before the submitter is answered, so whatever it asks next finds the batch.
    boost::asio::post(strand_, [this, batch]() mutable { AddBatch(batch); });
  } else {
    // Refused: it never runs, is never listed, and its request_id may be used again.
    spdlog::debug("batch {} refused: {}", batch->id(), std::string(stored.message()));
    ForgetRequest(*batch);
    active_batches_.fetch_sub(1);
  }
  admission->Resolve(std::move(stored));
}

void Scheduler::AddBatch(BatchPtr batch) {
  spdlog::info("batch {} submitted: {} tasks, max_concurrent {}", batch->id(), batch->size(),
               batch->max_concurrent());
  batches_.emplace(batch->seq(), batch);
  seq_by_id_.emplace(batch->id(), batch->seq());
  observer_.OnBatchSubmitted();
  MarkChanged(batch);
  MakeRunnable(batch);
  MaybeFinishBatch(batch);  // an empty batch is done at once
  Pump();
}

Scheduler::BatchPtr Scheduler::Find(const std::string& id) const {
  auto it = seq_by_id_.find(id);
  if (it == seq_by_id_.end()) return nullptr;
  return batches_.at(it->second);
}

void Scheduler::Complete(const AttemptToken& token, ExecutionOutcome outcome) {
  if (strand_.running_in_this_thread()) {
    completions_.push_back({token, std::move(outcome)});
    // Inside Pump (a synchronous executor) the loop picks it up. Otherwise pump soon rather
    // than now, so a burst of completions (a worker's batched outcomes) is handled in one turn.
    if (!pumping_ && !pump_posted_) {
      pump_posted_ = true;
      boost::asio::post(strand_, [this] {
        pump_posted_ = false;
        Pump();
      });
    }
    return;
  }
  boost::asio::post(strand_, [this, token, o = std::move(outcome)]() mutable {
    completions_.push_back({token, std::move(o)});
    Pump();
  });
}

void Scheduler::Pump() {
  if (pumping_ || suspended_) return;
  pumping_ = true;
  uint32_t steps = 0;
  std::vector<PendingCompletion> processing;
  while (steps < options_.max_steps_per_turn) {
    if (!completions_.empty()) {
      processing.swap(completions_);
      for (PendingCompletion& c : processing) HandleOutcome(c.token, std::move(c.outcome));
      steps += static_cast<uint32_t>(processing.size());
      processing.clear();
      continue;
    }
    if (running_total_ < options_.max_running && StartNext()) {
      ++steps;
      continue;
    }
    break;
  }
  pumping_ = false;
  FlushJournal();
  NotifyChanged();
  if (steps >= options_.max_steps_per_turn && !pump_posted_) {
    // Yield so readers and RPCs queued on the strand are served during a huge batch.
    pump_posted_ = true;
    boost::asio::post(strand_, [this] {
      pump_posted_ = false;
      Pump();
    });
  }
}

void Scheduler::MakeRunnable(const BatchPtr& batch) {
  if (batch->in_runnable_ring || !batch->CanStart()) return;
  batch->in_runnable_ring = true;
  runnable_.push_back(batch);
}

bool Scheduler::StartNext() {
  while (!runnable_.empty()) {
    BatchPtr batch = std::move(runnable_.front());
    runnable_.pop_front();
    batch->in_runnable_ring = false;
    if (!batch->CanStart()) continue;
    const uint32_t task = batch->PopReady();
    const Executor& executor = *batch->executor(task);
    if (executor.FreeCapacity() == 0) {
      Park(batch, task, executor);
    } else {
      StartAttempt(batch, task);
    }
    // One task per batch per turn of the ring: fair share of max_running between batches.
    MakeRunnable(batch);
    return true;
  }
  return false;
}

void Scheduler::StartAttempt(const BatchPtr& batch, uint32_t task) {
  const SteadyTime now = clock_.SteadyNow();
  {
    const SteadyTime ready_at = batch->slot(task).ready_at;
    observer_.OnTaskStarted(batch->executor_name(task),
                            now - (ready_at == SteadyTime{} ? batch->created_steady() : ready_at));
  }
  batch->OnAttemptStarted(task, now);
  ++running_total_;
  MarkChanged(batch);
  TaskSlot& slot = batch->slot(task);
  if (std::string* events = JournalEvents(batch)) EncodeStarted(*events, task, slot.retries);
  const AttemptToken token{batch->seq(), task, slot.generation};
  const uint32_t timeout_ms = batch->timeout_ms(task);
  const SteadyTime deadline = now + std::chrono::milliseconds(timeout_ms);
  const size_t before = completions_.size();
  const BatchTaskDependencies dependencies(*batch, task);
  ExecutionRequest request{token,
                           batch->id(),
                           batch->task_id(task),
                           batch->input(task),
                           batch->priority(task),
                           slot.retries,
                           timeout_ms,
                           deadline,
                           batch->executor_name(task),
                           batch->load_balancer(),
                           &dependencies};
  batch->executor(task)->Start(request, *this);
  const bool completed_inline = completions_.size() > before && completions_.back().token == token;
  if (!completed_inline) {
    slot.timer = timers_.ScheduleAt(deadline, [this, token] { OnTimeout(token); });
  }
}

void Scheduler::HandleOutcome(const AttemptToken& token, ExecutionOutcome outcome) {
  auto it = batches_.find(token.batch_seq);
  if (it == batches_.end()) return;
  BatchPtr batch = it->second;
  if (token.task >= batch->size()) return;
  TaskSlot& slot = batch->slot(token.task);
  if (slot.state != TaskState::kRunning || slot.generation != token.generation) {
    spdlog::debug("batch {} task '{}': ignoring outcome of a stale attempt", batch->id(),
                  batch->task_id(token.task));
    return;
  }
  if (slot.timer != kNoTimer) {
    timers_.Cancel(slot.timer);
    slot.timer = kNoTimer;
  }
  batch->OnAttemptEnded();
  --running_total_;
  if (outcome.worker_lost) {
    HandleLostWorker(batch, token.task, std::move(outcome));
  } else if (outcome.success) {
    FinishTask(batch, token.task, TaskState::kSucceeded, std::move(outcome.output), {},
               std::move(outcome.worker_id));
  } else if (!outcome.non_retryable &&
             slot.retries < batch->retry_policy(token.task).max_retries) {
    ScheduleRetry(batch, token.task, outcome.retry_after_ms);
  } else {
    FinishTask(batch, token.task, TaskState::kFailed, std::move(outcome.output),
               std::move(outcome.error), std::move(outcome.worker_id));
  }
  MakeRunnable(batch);
}

void Scheduler::HandleLostWorker(const BatchPtr& batch, uint32_t task, ExecutionOutcome outcome) {
  TaskSlot& slot = batch->slot(task);
  if (++slot.workers_lost >= kMaxWorkerLosses) {
    FinishTask(batch, task, TaskState::kFailed, {},
               absl::StrCat("Worker lost ", kMaxWorkerLosses, " times (last: ", outcome.error, ")"),
               std::move(outcome.worker_id));
    return;
  }
  spdlog::info("batch {} task '{}': {}; running it again", batch->id(), batch->task_id(task),
               outcome.error);
  slot.state = TaskState::kPending;
  slot.ready_at = clock_.SteadyNow();
  if (std::string* events = JournalEvents(batch)) EncodeRequeued(*events, task);
  batch->PushReady(task);
  batch->Touch();
  MarkChanged(batch);
}

void Scheduler::Park(const BatchPtr& batch, uint32_t task, const Executor& executor) {
  TaskSlot& slot = batch->slot(task);
  slot.parked = true;
  ParkedTasks& parked = parked_[&executor];
  ++parked.waiting;
  std::vector<ParkedTask>& heap = parked.heap;
  heap.push_back({batch->priority(task), next_park_order_++, batch->seq(), task});
  std::push_heap(heap.begin(), heap.end(), ParkedAfter<ParkedTask, ParkedTask>);
  // Entries of tasks that timed out or were cancelled while parked stay until popped (or until
  // none waits and the whole list goes); drop them whenever the heap doubles so an executor
  // that never gets a worker does not grow forever.
  if (heap.size() >= 1024 && std::has_single_bit(heap.size())) CompactParked(heap);
  if (slot.timer == kNoTimer && !executor.Unserved().empty()) ArmUnservedTimeout(batch, task);
}

void Scheduler::Unpark(Batch& batch, uint32_t task) {
  TaskSlot& slot = batch.slot(task);
  if (!std::exchange(slot.parked, false)) return;
  auto it = parked_.find(batch.executor(task));
  if (it != parked_.end() && --it->second.waiting == 0) parked_.erase(it);
}

void Scheduler::ArmUnservedTimeout(const BatchPtr& batch, uint32_t task) {
  TaskSlot& slot = batch->slot(task);
  const uint64_t seq = batch->seq();
  const uint32_t generation = slot.generation;
  slot.timer = timers_.ScheduleAt(
      clock_.SteadyNow() + std::chrono::milliseconds(batch->timeout_ms(task)),
      [this, seq, task, generation] { OnUnservedTimeout(seq, task, generation); });
}

void Scheduler::OnUnservedTimeout(uint64_t batch_seq, uint32_t task, uint32_t generation) {
  if (suspended_) return;
  auto it = batches_.find(batch_seq);
  if (it == batches_.end()) return;
  const BatchPtr batch = it->second;
  TaskSlot& slot = batch->slot(task);
  if (!slot.parked || slot.state != TaskState::kPending || slot.generation != generation) return;
  slot.timer = kNoTimer;
  std::string error = batch->executor(task)->Unserved();
  if (error.empty()) return;  // a worker serves it now: it waits for a free slot
  Unpark(*batch, task);
  FinishTask(batch, task, TaskState::kFailed, {}, std::move(error));
  MakeRunnable(batch);
  Pump();
}

Batch* Scheduler::StillParked(const ParkedTask& p) const {
  auto b = batches_.find(p.batch_seq);
  if (b == batches_.end()) return nullptr;
  const TaskSlot& slot = b->second->slot(p.task);
  return slot.parked && slot.state == TaskState::kPending ? b->second.get() : nullptr;
}

void Scheduler::CompactParked(std::vector<ParkedTask>& heap) const {
  std::erase_if(heap, [this](const ParkedTask& p) { return StillParked(p) == nullptr; });
  std::make_heap(heap.begin(), heap.end(), ParkedAfter<ParkedTask, ParkedTask>);
}

void Scheduler::OnCapacityChanged(Executor& executor) {
  // A woken task may not start at once (its batch is at max_concurrent, or runs another task
  // first) and may never start (its batch is cancelled): while a slot stays free, pump and wake
  // more, so no slot idles next to a parked task. Pump may park again: find the heap anew.
  for (bool woke = true; woke;) {
    woke = false;
    auto it = parked_.find(&executor);
    if (it == parked_.end()) break;
    ParkedTasks& parked = it->second;
    std::vector<ParkedTask>& heap = parked.heap;
    uint32_t free = executor.FreeCapacity();
    while (free > 0 && parked.waiting > 0 && !heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), ParkedAfter<ParkedTask, ParkedTask>);
      const ParkedTask p = heap.back();
      heap.pop_back();
      Batch* batch = StillParked(p);
      if (batch == nullptr) continue;
      TaskSlot& slot = batch->slot(p.task);
      slot.parked = false;
      --parked.waiting;
      if (slot.timer != kNoTimer) {
        timers_.Cancel(slot.timer);
        slot.timer = kNoTimer;
      }
      batch->PushReady(p.task);
      MakeRunnable(batches_.at(p.batch_seq));
      --free;
      woke = true;
    }
    if (parked.waiting == 0) parked_.erase(it);
    if (woke) Pump();
  }
  auto it = parked_.find(&executor);
  if (it != parked_.end() && !executor.Unserved().empty()) {
    // The last worker left: tasks waiting for a slot now wait for a worker, up to their timeout.
    std::vector<ParkedTask>& heap = it->second.heap;
    CompactParked(heap);
    for (const ParkedTask& p : heap) {
      const BatchPtr& batch = batches_.at(p.batch_seq);
      if (batch->slot(p.task).timer == kNoTimer) ArmUnservedTimeout(batch, p.task);
    }
  }
  Pump();
}

void Scheduler::OnTimeout(const AttemptToken& token) {
  if (suspended_) return;
  auto it = batches_.find(token.batch_seq);
  if (it == batches_.end()) return;
  BatchPtr batch = it->second;
  TaskSlot& slot = batch->slot(token.task);
  if (slot.state != TaskState::kRunning || slot.generation != token.generation) return;
  slot.timer = kNoTimer;
  batch->executor(token.task)->CancelBecause(
      token, absl::StrCat("Timeout after ", batch->timeout_ms(token.task), " ms"));
  batch->OnAttemptEnded();
  --running_total_;
  observer_.OnTimeout(batch->executor_name(token.task));
  const RetryPolicy& policy = batch->retry_policy(token.task);
  if (policy.retry_on_timeout && slot.retries < policy.max_retries) {
    ScheduleRetry(batch, token.task, std::nullopt);
  } else {
    FinishTask(batch, token.task, TaskState::kTimedOut, {},
               absl::StrCat("Timeout after ", batch->timeout_ms(token.task), " ms"));
  }
  MakeRunnable(batch);
  Pump();
}

void Scheduler::ScheduleRetry(const BatchPtr& batch, uint32_t task,
                              std::optional<uint32_t> retry_after_ms) {
  TaskSlot& slot = batch->slot(task);
  const RetryPolicy& policy = batch->retry_policy(task);
  uint64_t delay_ms = 0;
  if (retry_after_ms.has_value()) {
    delay_ms = *retry_after_ms;
  } else {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    delay_ms = ApplyJitter(policy.jitter, BaseRetryDelayMs(policy, slot.retries), unit(jitter_rng_));
  }
  ++slot.retries;
  slot.state = TaskState::kRetryWait;
  observer_.OnRetryScheduled(batch->executor_name(task));
  const auto delay = std::chrono::milliseconds(delay_ms);
  if (std::string* events = JournalEvents(batch)) {
    EncodeRetryWait(*events, task, slot.retries, clock_.WallNow() + delay);
  }
  ArmRetryTimer(batch, task, clock_.SteadyNow() + delay);
  batch->Touch();
  MarkChanged(batch);
}

void Scheduler::ArmRetryTimer(const BatchPtr& batch, uint32_t task, SteadyTime at) {
  TaskSlot& slot = batch->slot(task);
  const uint64_t seq = batch->seq();
  const uint32_t generation = slot.generation;
  slot.timer = timers_.ScheduleAt(at, [this, seq, task, generation] {
                                    auto it = batches_.find(seq);
                                    if (it == batches_.end()) return;
                                    const TaskSlot& s = it->second->slot(task);
                                    if (s.state != TaskState::kRetryWait ||
                                        s.generation != generation) {
                                      return;
                                    }
                                    OnRetryDue(it->second, task);
                                  });
}

void Scheduler::OnRetryDue(const BatchPtr& batch, uint32_t task) {
  TaskSlot& slot = batch->slot(task);
  slot.timer = kNoTimer;
  slot.state = TaskState::kPending;
  slot.ready_at = clock_.SteadyNow();
  batch->PushReady(task);
  MakeRunnable(batch);
  Pump();
}

void Scheduler::FinishTask(const BatchPtr& batch, uint32_t task, TaskState state,
                           boost::json::value output, std::string error, std::string worker_id) {
  const SteadyTime now = clock_.SteadyNow();
  batch->Record(task, state, std::move(output), std::move(error), now, std::move(worker_id));
  ReportFinished(batch, task);
  MarkChanged(batch);
  const bool failed = state == TaskState::kFailed || state == TaskState::kTimedOut;
  const bool release_dependents =
      state == TaskState::kSucceeded ||
      (failed && batch->on_dependency_failure() == DependencyFailure::kRunDependents);
  if (release_dependents) {
    for (uint32_t d : batch->graph().Dependents(task)) {
      TaskSlot& s = batch->slot(d);
      if (--s.remaining_deps == 0 && s.state == TaskState::kPending &&
          !batch->cancel_requested()) {
        s.ready_at = now;
        batch->PushReady(d);
      }
    }
  } else if (failed) {
    if (batch->on_dependency_failure() == DependencyFailure::kCancelBatch) {
      CancelBatch(batch, absl::StrCat("task '", batch->task_id(task), "' failed"));
    } else {
      SkipDependents(batch, task);
    }
  }
  MaybeFinishBatch(batch);
}

void Scheduler::SkipDependents(const BatchPtr& batch, uint32_t failed_task) {
  const std::string error =
      absl::StrCat("Skipped: dependency '", batch->task_id(failed_task), "' failed");
  const SteadyTime now = clock_.SteadyNow();
  std::vector<uint32_t> stack(batch->graph().Dependents(failed_task).begin(),
                              batch->graph().Dependents(failed_task).end());
  while (!stack.empty()) {
    const uint32_t t = stack.back();
    stack.pop_back();
    if (batch->slot(t).state != TaskState::kPending) continue;
    batch->Record(t, TaskState::kSkipped, {}, error, now);
    ReportFinished(batch, t);
    for (uint32_t d : batch->graph().Dependents(t)) stack.push_back(d);
  }
}

void Scheduler::CancelBatch(const BatchPtr& batch, std::string reason) {
  if (batch->finished() || batch->cancel_requested()) return;
  spdlog::info("batch {} cancelled: {}", batch->id(), reason);
  const std::string error = absl::StrCat("Cancelled: ", reason);
  if (std::string* events = JournalEvents(batch)) EncodeCancelled(*events, reason);
  batch->MarkCancelled(std::move(reason));
  CancelRemaining(batch, error);
  MarkChanged(batch);
  MaybeFinishBatch(batch);
}

void Scheduler::CancelRemaining(const BatchPtr& batch, const std::string& error) {
  const SteadyTime now = clock_.SteadyNow();
  for (uint32_t t = 0; t < batch->size(); ++t) {
    TaskSlot& slot = batch->slot(t);
    if (IsFinal(slot.state)) continue;
    if (slot.timer != kNoTimer) {
      timers_.Cancel(slot.timer);
      slot.timer = kNoTimer;
    }
    Unpark(*batch, t);
    if (slot.state == TaskState::kRunning) {
      batch->executor(t)->CancelBecause(AttemptToken{batch->seq(), t, slot.generation}, error);
      batch->OnAttemptEnded();
      --running_total_;
    }
    batch->Record(t, TaskState::kCancelled, {}, error, now);
    ReportFinished(batch, t);
  }
}

void Scheduler::MaybeFinishBatch(const BatchPtr& batch) {
  if (batch->finished() || !batch->AllFinal() || batch->running() > 0) return;
  batch->Finish(clock_.SteadyNow());
  if (std::string* events = JournalEvents(batch)) EncodeFinished(*events, clock_.WallNow());
  active_batches_.fetch_sub(1);
  observer_.OnBatchFinished(batch->state());
  MarkChanged(batch);
  const BatchSummary s = batch->Summary();
  spdlog::info("batch {} finished {}: {} tasks, {} succeeded, {} failed, {} retried, {:.1f} ms",
               batch->id(), BatchStateName(s.state), s.total_tasks, s.successful_count,
               s.failed_count, s.retried_count, s.total_duration_ms);
  finished_order_.push_back(batch);
  EvictExpired();
}

void Scheduler::EvictExpired() {
  const SteadyTime now = clock_.SteadyNow();
  while (!finished_order_.empty()) {
    const BatchPtr& oldest = finished_order_.front();
    const bool too_many = finished_order_.size() > options_.max_finished_batches;
    const bool too_old = now - oldest->finished_steady() >= options_.retention;
    if (!too_many && !too_old) break;
    seq_by_id_.erase(oldest->id());
    if (options_.journal != nullptr) options_.journal->Forget(oldest->seq());
    ForgetRequest(*oldest);
    batches_.erase(oldest->seq());
    finished_order_.pop_front();
  }
  if (eviction_timer_ != kNoTimer) {
    timers_.Cancel(eviction_timer_);
    eviction_timer_ = kNoTimer;
  }
  if (!finished_order_.empty()) {
    eviction_timer_ =
        timers_.ScheduleAt(finished_order_.front()->finished_steady() + options_.retention, [this] {
          eviction_timer_ = kNoTimer;
          EvictExpired();
        });
  }
}

void Scheduler::MarkChanged(const BatchPtr& batch) {
  if (batch->MarkChanged()) changed_.push_back(batch);
}

void Scheduler::NotifyChanged() {
  while (!changed_.empty()) {
    std::vector<BatchPtr> changed;
    changed.swap(changed_);
    for (const BatchPtr& batch : changed) {
      batch->ClearChanged();
      std::vector<absl::AnyInvocable<void()>> waiters;
      waiters.swap(batch->change_waiters());
      for (auto& waiter : waiters) waiter();
    }
  }
}

void Scheduler::GetSummary(std::string batch_id, Callback<BatchSummary> done) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), done = std::move(done)]() mutable {
    BatchPtr batch = Find(id);
    if (batch == nullptr) return done(BatchNotFound(id));
    done(batch->Summary());
  });
}

void Scheduler::WaitForCompletion(std::string batch_id, Callback<BatchSummary> done) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), done = std::move(done)]() mutable {
    BatchPtr batch = Find(id);
    if (batch == nullptr) return done(BatchNotFound(id));
    TryDeliverCompletion(std::move(batch), std::move(done));
  });
}

void Scheduler::TryDeliverCompletion(BatchPtr batch, Callback<BatchSummary> done) {
  if (batch->finished_durably()) return done(batch->Summary());
  if (suspended_) return done(Suspended(*batch));
  Batch& b = *batch;
  b.change_waiters().push_back([this, batch = std::move(batch), done = std::move(done)]() mutable {
    TryDeliverCompletion(std::move(batch), std::move(done));
  });
}

void Scheduler::GetProgress(std::string batch_id, Callback<BatchProgress> done) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), done = std::move(done)]() mutable {
    BatchPtr batch = Find(id);
    if (batch == nullptr) return done(BatchNotFound(id));
    done(batch->Progress());
  });
}

void Scheduler::WatchProgress(std::string batch_id, uint64_t after_version, SteadyTime not_before,
                              Callback<ProgressUpdate> done) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), after_version, not_before,
                              done = std::move(done)]() mutable {
    BatchPtr batch = Find(id);
    if (batch == nullptr) return done(BatchNotFound(id));
    TryDeliverProgress(std::move(batch), after_version, not_before, std::move(done));
  });
}

void Scheduler::TryDeliverProgress(BatchPtr batch, uint64_t after_version, SteadyTime not_before,
                                   Callback<ProgressUpdate> done) {
  const SteadyTime now = clock_.SteadyNow();
  Batch& b = *batch;
  // A finished batch's update is the last one, sent once its end is durable (like its
  // results): until then the reader waits, and never sees an end that a crash could undo.
  const bool final = b.finished_durably();
  const bool wait = b.finished() ? !final : after_version != 0 && b.version() <= after_version;
  if (wait) {
    if (suspended_) return done(Suspended(b));
    b.change_waiters().push_back(
        [this, batch = std::move(batch), after_version, not_before, done = std::move(done)]() mutable {
          TryDeliverProgress(std::move(batch), after_version, not_before, std::move(done));
        });
    return;
  }
  if (now < not_before && !final) {
    // Holds the batch's seq, not the batch: a reader waiting out a long interval must not keep
    // the batch past its retention.
    timers_.ScheduleAt(not_before, [this, seq = b.seq(), id = b.id(), after_version, not_before,
                                    done = std::move(done)]() mutable {
      auto it = batches_.find(seq);
      if (it == batches_.end()) return done(BatchNotFound(id));
      TryDeliverProgress(it->second, after_version, not_before, std::move(done));
    });
    return;
  }
  ProgressUpdate update;
  update.progress = b.Progress();
  update.version = b.version();
  update.delivered_at = now;
  update.final = final;
  done(std::move(update));
}

void Scheduler::ReadResults(std::string batch_id, uint64_t after_sequence,
                            Callback<ResultChunk> done) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), after_sequence,
                              done = std::move(done)]() mutable {
    BatchPtr batch = Find(id);
    if (batch == nullptr) return done(BatchNotFound(id));
    TryDeliverResults(std::move(batch), after_sequence, std::move(done));
  });
}

void Scheduler::TryDeliverResults(BatchPtr batch, uint64_t after, Callback<ResultChunk> done) {
  ResultChunk chunk = batch->ReadResults(after, options_.max_results_per_chunk);
  if (!chunk.results.empty() || chunk.summary.has_value()) return done(std::move(chunk));
  if (suspended_) return done(Suspended(*batch));
  Batch& b = *batch;
  b.change_waiters().push_back([this, batch = std::move(batch), after, done = std::move(done)]() mutable {
    TryDeliverResults(std::move(batch), after, std::move(done));
  });
}

void Scheduler::ListBatches(size_t limit,
                            absl::AnyInvocable<void(std::vector<BatchProgress>)> done) {
  boost::asio::post(strand_, [this, limit, done = std::move(done)]() mutable {
    std::vector<BatchProgress> out;
    for (auto it = batches_.rbegin(); it != batches_.rend(); ++it) {
      if (limit != 0 && out.size() >= limit) break;
      out.push_back(it->second->Progress());
    }
    done(std::move(out));
  });
}

void Scheduler::Cancel(std::string batch_id, std::string reason, Callback<BatchProgress> done) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), reason = std::move(reason),
                              done = std::move(done)]() mutable {
    BatchPtr batch = Find(id);
    if (batch == nullptr) return done(BatchNotFound(id));
    if (suspended_) return done(Suspended(*batch));
    if (batch->finished()) {
      return done(absl::FailedPreconditionError(absl::StrCat(
          "Batch '", id, "' already finished (", BatchStateName(batch->state()), ")")));
    }
    CancelBatch(batch, reason.empty() ? std::string("cancelled by client") : std::move(reason));
    Pump();
    done(batch->Progress());
  });
}

void Scheduler::ReportFinished(const BatchPtr& batch, uint32_t task) {
  const TaskResult* r = batch->result(task);
  observer_.OnTaskFinished(batch->executor_name(task), r->state,
                           std::chrono::duration_cast<Duration>(
                               std::chrono::duration<double, std::milli>(r->duration_ms)));
  if (std::string* events = JournalEvents(batch)) EncodeResult(*events, *r);
}

void Scheduler::Snapshot(absl::AnyInvocable<void(SchedulerGauges)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)]() mutable {
    SchedulerGauges g;
    g.active_batches = batches_.size() - finished_order_.size();
    g.running_tasks = running_total_;
    for (const auto& [seq, batch] : batches_) g.ready_tasks += batch->ready_count();
    for (const auto& [executor, parked] : parked_) g.waiting_for_worker_tasks += parked.waiting;
    done(g);
  });
}

void Scheduler::CountUnfinished(absl::AnyInvocable<void(size_t)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)]() mutable {
    done(batches_.size() - finished_order_.size());
  });
}

void Scheduler::CancelAll(std::string reason) {
  boost::asio::post(strand_, [this, reason = std::move(reason)] {
    std::vector<BatchPtr> unfinished;
    for (auto& [seq, batch] : batches_) {
      if (!batch->finished()) unfinished.push_back(batch);
    }
    for (const BatchPtr& batch : unfinished) CancelBatch(batch, reason);
    Pump();
  });
}

std::string* Scheduler::JournalEvents(const BatchPtr& batch) {
  if (options_.journal == nullptr || suspended_) return nullptr;
  if (!batch->in_journal_list) {
    batch->in_journal_list = true;
    journal_dirty_.push_back(batch);
  }
  return &batch->journal_events();
}

void Scheduler::FlushJournal() {
  if (journal_dirty_.empty()) return;
  std::vector<EventChunk> chunks;
  chunks.reserve(journal_dirty_.size());
  for (const BatchPtr& batch : journal_dirty_) {
    batch->in_journal_list = false;
    std::string events = std::exchange(batch->journal_events(), {});
    // The next turn's chunk is about as big: reserving (up to 64 KiB) saves regrowing the
    // string from empty (~2 % of the daemon's samples in the no-op benchmark).
    if (!batch->finished()) {
      batch->journal_events().reserve(std::min<size_t>(events.size(), 64 << 10));
    }
    chunks.push_back(EventChunk{batch->seq(), std::move(events), batch->visible_count(),
                                batch->finished()});
  }
  journal_dirty_.clear();
  options_.journal->AppendEvents(std::move(chunks));
}

void Scheduler::OnDurable(std::vector<DurableMark> marks) {
  for (const DurableMark& m : marks) {
    auto it = batches_.find(m.batch_seq);
    if (it == batches_.end()) continue;
    it->second->MarkDurable(m.visible_results, m.finished);
    MarkChanged(it->second);
  }
  NotifyChanged();
}

void Scheduler::ForgetRequest(const Batch& batch) {
  if (batch.request_id().empty()) return;
  absl::MutexLock lock(&requests_mu_);
  auto it = requests_.find(batch.request_id());
  if (it != requests_.end() && it->second.batch.get() == &batch) requests_.erase(it);
}

absl::Status Scheduler::Suspended(const Batch& batch) const {
  return absl::UnavailableError(absl::StrCat(
      "batchd is shutting down; batch ", batch.id(), " resumes when the daemon restarts"));
}

void Scheduler::Suspend(std::string reason) {
  boost::asio::post(strand_, [this, reason = std::move(reason)] {
    FlushJournal();
    suspended_ = true;
    for (auto& [seq, batch] : batches_) {
      if (batch->finished()) continue;
      for (uint32_t t = 0; t < batch->size(); ++t) {
        TaskSlot& slot = batch->slot(t);
        if (slot.timer != kNoTimer) {
          timers_.Cancel(slot.timer);
          slot.timer = kNoTimer;
        }
        if (slot.state == TaskState::kRunning) {
          batch->executor(t)->CancelBecause(AttemptToken{batch->seq(), t, slot.generation},
                                            reason);
        }
      }
      MarkChanged(batch);
    }
    NotifyChanged();
  });
}

absl::Status Scheduler::Restore(RecoveredBatch recovered) {
  Batch::Identity identity;
  identity.id = recovered.record.id;
  identity.seq = recovered.record.seq;
  identity.created_wall = recovered.record.created_at;
  identity.created_steady = SteadyEquivalent(clock_, recovered.record.created_at);
  recovered.spec.request_id = recovered.record.request_id;
  // Callback workers reconnect after a restart, but not before recovery runs: executors nobody
  // serves yet are their executors (made now and kept by the batch while it is unfinished), and
  // the tasks wait for them (up to their timeouts).
  recovered.spec.options.wait_for_workers = true;
  absl::StatusOr<std::shared_ptr<Batch>> created =
      Batch::Create(std::move(recovered.spec), registry_, std::move(identity));
  if (!created.ok()) return created.status();
  BatchPtr batch = *std::move(created);
  if (options_.journal != nullptr) batch->SetJournaled();
  {
    absl::MutexLock lock(&id_mu_);
    next_seq_ = std::max(next_seq_, batch->seq() + 1);
  }
  if (!batch->request_id().empty()) {
    absl::MutexLock lock(&requests_mu_);
    requests_[batch->request_id()] = AdmittedRequest{absl::HashOf(recovered.record.content), batch,
                                                     Admission::Decided(absl::OkStatus())};
  }
  boost::asio::post(strand_, [this, batch, events = std::move(recovered.events)]() mutable {
    Replay(batch, std::move(events));
  });
  return absl::OkStatus();
}

void Scheduler::Replay(const BatchPtr& batch, std::vector<JournalEvent> events) {
  batches_.emplace(batch->seq(), batch);
  seq_by_id_.emplace(batch->id(), batch->seq());
  std::vector<WallTime> retry_due(batch->size());
  std::optional<WallTime> finished_at;
  for (JournalEvent& e : events) {
    if (e.kind != JournalEventKind::kCancelled && e.kind != JournalEventKind::kFinished &&
        e.task >= batch->size()) {
      continue;  // not this batch's task: ignore rather than corrupt memory
    }
    TaskSlot& slot = batch->slot(e.task);
    switch (e.kind) {
      case JournalEventKind::kStarted:
        if (IsFinal(slot.state)) break;
        slot.state = TaskState::kRunning;
        slot.retries = e.retries;
        batch->RestoreStarted(e.task, slot.generation + 1);
        break;
      case JournalEventKind::kRequeued:
        if (!IsFinal(slot.state)) slot.state = TaskState::kPending;
        break;
      case JournalEventKind::kRetryWait:
        if (IsFinal(slot.state)) break;
        slot.state = TaskState::kRetryWait;
        slot.retries = e.retries;
        retry_due[e.task] = e.at;
        break;
      case JournalEventKind::kResult: {
        if (IsFinal(slot.state)) break;  // a duplicate: the first result stands
        batch->RestoreResult(e);
        if (e.state == TaskState::kSucceeded ||
            batch->on_dependency_failure() == DependencyFailure::kRunDependents) {
          for (uint32_t d : batch->graph().Dependents(e.task)) {
            TaskSlot& s = batch->slot(d);
            if (s.remaining_deps > 0) --s.remaining_deps;
          }
        }
        break;
      }
      case JournalEventKind::kCancelled:
        if (!batch->cancel_requested()) batch->MarkCancelled(e.reason);
        break;
      case JournalEventKind::kFinished:
        finished_at = e.at;
        break;
    }
  }
  batch->MarkDurable(batch->visible_count(), false);
  if (finished_at.has_value() && batch->AllFinal()) {
    batch->RestoreFinished(SteadyEquivalent(clock_, *finished_at));
    batch->MarkDurable(batch->visible_count(), true);
    // Keep finished_order_ sorted by finish time (recovered batches come in admission order).
    auto pos = finished_order_.end();
    while (pos != finished_order_.begin() &&
           (*std::prev(pos))->finished_steady() > batch->finished_steady()) {
      --pos;
    }
    finished_order_.insert(pos, batch);
    EvictExpired();
    return;
  }
  active_batches_.fetch_add(1);
  ResumeRecovered(batch, retry_due);
}

void Scheduler::ResumeRecovered(const BatchPtr& batch, const std::vector<WallTime>& retry_due) {
  const SteadyTime now = clock_.SteadyNow();
  const WallTime wall_now = clock_.WallNow();
  uint32_t rerun = 0;
  for (uint32_t t = 0; t < batch->size(); ++t) {
    TaskSlot& slot = batch->slot(t);
    if (slot.state == TaskState::kRunning) {
      // It was running when the daemon stopped: run it again, the lost attempt counted.
      slot.state = TaskState::kPending;
      ++slot.retries;
      ++rerun;
    } else if (slot.state == TaskState::kRetryWait) {
      // A retry delay is at most 2^32 ms (~50 days): more means a clock jump or corruption.
      const auto remaining = std::clamp<Duration>(
          std::chrono::duration_cast<Duration>(retry_due[t] - wall_now), Duration::zero(),
          std::chrono::milliseconds(UINT32_MAX));
      ArmRetryTimer(batch, t, now + remaining);
    }
  }
  spdlog::info("batch {} recovered: {} of {} tasks final, {} interrupted attempts run again",
               batch->id(), batch->completed(), batch->size(), rerun);
  // Consequences of failures that the crash may have cut short.
  // (Any final task that did not succeed counts: a journal from an older or damaged file may
  // hold a skipped or cancelled task whose dependents are still pending.)
  for (uint32_t t = 0; t < batch->size() && !batch->cancel_requested(); ++t) {
    const TaskState state = batch->slot(t).state;
    if (!IsFinal(state) || state == TaskState::kSucceeded) continue;
    if (batch->on_dependency_failure() == DependencyFailure::kCancelBatch) {
      CancelBatch(batch, absl::StrCat("task '", batch->task_id(t), "' failed"));
    } else if (batch->on_dependency_failure() == DependencyFailure::kSkipDependents) {
      SkipDependents(batch, t);
    }
  }
  if (batch->cancel_requested()) {
    CancelRemaining(batch, absl::StrCat("Cancelled: ", batch->cancel_reason()));
  }
  batch->RebuildReady();
  MarkChanged(batch);
  MakeRunnable(batch);
  MaybeFinishBatch(batch);
  Pump();
}

}  // namespace batchd::core
