#include "core/scheduling/scheduler.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/model/field_violation.h"
#include "core/process/valid_utf8.h"
#include "core/scheduling/batch_replay.h"
#include "core/scheduling/batch_task_dependencies.h"
#include "core/secrets/secret_redactor.h"
#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

// 128 bits from the system's random source, as 32 hex digits: a completion token is the
// capability to complete a task, so it must not be guessable from others seen.
std::string NewCompletionToken() {
  std::random_device random;
  std::string token;
  token.reserve(32);
  for (int i = 0; i < 4; ++i) absl::StrAppend(&token, absl::Hex(random(), absl::kZeroPad8));
  return token;
}

// Compares without stopping at the first difference (no timing hint at a token's prefix).
bool SameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

absl::Status NoSuchTask(const Batch& batch, const std::string& task_id) {
  return absl::NotFoundError(absl::StrCat("Batch '", batch.id(), "' has no task '", task_id, "'"));
}

absl::Status BatchAlreadyFinished(const Batch& batch) {
  return absl::FailedPreconditionError(absl::StrCat("Batch '", batch.id(), "' already finished (",
                                                    BatchStateName(batch.state()), ")"));
}

absl::Status TaskAlreadyFinished(const Batch& batch, uint32_t task) {
  return absl::FailedPreconditionError(absl::StrCat("Task '", batch.task_id(task), "' of batch '",
                                                    batch.id(), "' already finished (",
                                                    TaskStateName(batch.slot(task).state), ")"));
}

}  // namespace

Scheduler::Scheduler(Strand strand, const Clock& clock, TimerService& timers,
                     ExecutorRegistry& registry, SchedulerOptions options)
    : strand_(strand),
      clock_(clock),
      timers_(timers),
      registry_(registry),
      options_(options),
      secrets_(options.secrets != nullptr ? options.secrets
                                          : std::make_shared<const SecretStore>()),
      observer_(options.observer != nullptr ? *options.observer : no_observer_),
      limits_(clock, timers, options.limits, [this] { Pump(); }),
      cache_(options.cache, options.journal, clock),
      limit_changes_(strand_, limits_, options.journal, [this] { Pump(); }),
      admitter_(
          clock, registry, options.journal, options.max_active_batches,
          [this](BatchPtr batch) { OnAdmitted(std::move(batch)); }, &limits_.catalog(),
          secrets_.get()),
      retention_(clock, timers, options.retention, options.max_finished_batches,
                 [this](const BatchPtr& batch) { Evict(batch); }),
      readers_(clock, timers, options.max_results_per_chunk),
      journal_(options.journal),
      jitter_rng_(std::random_device{}()) {
  if (options_.journal != nullptr) {
    options_.journal->SetDurableListener([this](std::vector<DurableMark> marks) {
      boost::asio::post(
          strand_, [this, marks = std::move(marks)]() mutable { OnDurable(std::move(marks)); });
    });
  }
}

Scheduler::~Scheduler() {
  // Parked waiters hold their batch; drop them to break the cycle.
  for (const auto& [seq, batch] : batches_.by_seq()) batch->change_waiters().clear();
}

// ---- Admission ----

void Scheduler::OnAdmitted(BatchPtr batch) {
  // From the submitter's or the journal's thread; posted before the submitter is answered, so
  // whatever it asks next finds the batch.
  boost::asio::post(strand_, [this, b = std::move(batch)]() mutable { AddBatch(std::move(b)); });
}

void Scheduler::AddBatch(BatchPtr batch) {
  spdlog::info("batch {} submitted: {} tasks, max_concurrent {}", batch->id(), batch->size(),
               batch->max_concurrent());
  batches_.Add(batch);
  observer_.OnBatchSubmitted();
  readers_.MarkChanged(batch);
  runnable_.Add(batch);
  MaybeFinishBatch(batch);  // an empty batch is done at once
  Pump();
}

// ---- The strand loop ----

void Scheduler::Complete(const AttemptToken& token, ExecutionOutcome outcome) {
  if (strand_.running_in_this_thread()) {
    completions_.push_back({token, std::move(outcome)});
    // Inside Pump (a synchronous executor) the loop picks it up. Otherwise pump soon rather
    // than now, so a burst of completions (a worker's batched outcomes) is handled in one turn.
    if (!pumping_) PostPump();
    return;
  }
  boost::asio::post(strand_, [this, token, o = std::move(outcome)]() mutable {
    completions_.push_back({token, std::move(o)});
    Pump();
  });
}

void Scheduler::Output(const AttemptToken& token, std::string chunk) {
  if (strand_.running_in_this_thread()) return AppendOutput(token, std::move(chunk));
  boost::asio::post(strand_, [this, token, chunk = std::move(chunk)]() mutable {
    AppendOutput(token, std::move(chunk));
  });
}

void Scheduler::AppendOutput(const AttemptToken& token, std::string chunk) {
  const BatchPtr batch = batches_.Current(token, TaskState::kRunning);
  if (batch == nullptr) return;  // the attempt ended: its late output belongs to no one
  if (const SecretRefs* secrets = batch->secret_refs(token.task)) {
    SecretRedactor(*secrets, *secrets_).Redact(chunk);
  }
  // Readers get text (a proto string): a worker's bytes that are not UTF-8 are made so.
  batch->AppendOutput(token.task, ToValidUtf8(chunk), options_.max_task_output_bytes);
  readers_.MarkChanged(batch);
  if (!pumping_) readers_.NotifyChanged();
}

void Scheduler::PostPump() {
  if (std::exchange(pump_posted_, true)) return;
  boost::asio::post(strand_, [this] {
    pump_posted_ = false;
    Pump();
  });
}

void Scheduler::Pump() {
  if (pumping_ || suspended_) return;
  pumping_ = true;
  uint32_t steps = 0;
  while (steps < options_.max_steps_per_turn) {
    if (!completions_.empty()) {
      // Both vectors keep their capacity from turn to turn: a burst of completions does not
      // regrow one from empty (Pump does not nest, so one spare vector is enough).
      processing_.swap(completions_);
      for (PendingCompletion& c : processing_) HandleOutcome(c.token, std::move(c.outcome));
      steps += static_cast<uint32_t>(processing_.size());
      processing_.clear();
      continue;
    }
    if (!cache_handoffs_.empty()) {
      ApplyCacheHandoffs();  // may finish tasks or make one ready
      ++steps;
      continue;
    }
    if (limits_.dirty()) {
      DrainLimits();  // may make waiters ready
      ++steps;
      continue;
    }
    if (PrepareNext()) {
      ++steps;
      continue;
    }
    if (running_total_ < options_.max_running && StartNext()) {
      ++steps;
      continue;
    }
    break;
  }
  pumping_ = false;
  journal_.Flush();
  cache_.Flush();
  readers_.NotifyChanged();
  // Yield so readers and RPCs queued on the strand are served during a huge batch.
  if (steps >= options_.max_steps_per_turn) PostPump();
}

// A task that became ready is prepared before it takes anything (no batch or daemon slot, no
// limit units): its dependencies' outputs go into its input, and it is looked up in the cache.
bool Scheduler::PrepareNext() {
  const BatchPtr batch = runnable_.NextToPrepare();
  if (batch == nullptr) return false;
  const uint32_t task = batch->PopUnprepared();
  if (batch->slot(task).state == TaskState::kPending && !batch->cancel_requested()) {
    bool runs = true;
    if (batch->has_input_refs(task)) {
      if (absl::Status resolved = batch->ResolveInput(task); !resolved.ok()) {
        FinishTask(batch, task, TaskState::kFailed, {}, std::string(resolved.message()));
        runs = false;
      }
    }
    if (runs && batch->slot(task).cache == CacheStage::kUnchecked &&
        batch->cache_spec(task) != nullptr) {
      runs = LookUpCache(batch, task);
    }
    if (runs && batch->completed_by_client(task)) {
      // It holds no slot while it waits for its client: it starts now, whatever
      // max_concurrent and --max-running say (after its limits, which it does hold).
      const SteadyTime now = clock_.SteadyNow();
      if (batch->slot(task).limits_held || batch->limits(task).empty() ||
          AcquireLimits(batch, task, now)) {
        StartAttempt(batch, task, now);
      }
    } else if (runs) {
      batch->PushPrepared(task);
    }
  }
  runnable_.Add(batch);
  return true;
}

bool Scheduler::StartNext() {
  const BatchPtr batch = runnable_.Next();
  if (batch == nullptr) return false;
  const uint32_t task = batch->PopReady();
  if (batch->slot(task).state != TaskState::kPending) {
    // Cancelled (CancelTask) after it was queued: the dispatch boundary, it never starts.
    runnable_.Add(batch);
    return true;
  }
  const Executor& executor = *batch->executor(task);
  if (executor.FreeCapacity() == 0) {
    // It waits for the executor without holding limits (no hold-and-wait); it asks again.
    ReleaseLimits(*batch, task);
    Park(batch, task, executor);
  } else {
    const SteadyTime now = clock_.SteadyNow();  // one read for the limits and the attempt
    if (batch->slot(task).limits_held || batch->limits(task).empty() ||
        AcquireLimits(batch, task, now)) {
      StartAttempt(batch, task, now);
    }
  }
  // One task per batch per turn of the ring: fair share of max_running between batches.
  runnable_.Add(batch);
  return true;
}

void Scheduler::StartAttempt(const BatchPtr& batch, uint32_t task, SteadyTime now) {
  {
    const SteadyTime ready_at = batch->slot(task).ready_at;
    observer_.OnTaskStarted(batch->executor_name(task),
                            now - (ready_at == SteadyTime{} ? batch->created_steady() : ready_at));
  }
  Executor& executor = *batch->executor(task);
  const bool by_client = executor.CompletedByClient();
  batch->OnAttemptStarted(task, now, /*takes_slot=*/!by_client);
  if (!by_client) ++running_total_;
  readers_.MarkChanged(batch);
  const TaskSlot& slot = batch->slot(task);
  std::string* events = journal_.Events(batch);
  if (events != nullptr) EncodeStarted(*events, task, slot.retries);
  if (by_client) {
    const WallTime since = clock_.WallNow();
    std::string client_token = NewCompletionToken();
    if (events != nullptr) EncodeAwaiting(*events, task, since, client_token);
    batch->AwaitClient(task, std::move(client_token), since);
  }
  const AttemptToken token = batch->attempt(task);
  const uint32_t timeout_ms = batch->timeout_ms(task);
  const SteadyTime deadline = now + std::chrono::milliseconds(timeout_ms);
  const size_t before = completions_.size();
  const BatchTaskDependencies dependencies(*batch, task);
  const std::string* units_header = slot.limits_held && limits_.any_units_header()
                                        ? limits_.UnitsHeader(batch->limits(task))
                                        : nullptr;
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
                           &dependencies,
                           units_header != nullptr ? *units_header : std::string_view{}};
  StartOnExecutor(*batch, task, request);
  const bool completed_inline = completions_.size() > before && completions_.back().token == token;
  if (!completed_inline && timeout_ms != Batch::kNoTimeout) {
    batch->SetTimer(task, timers_.ScheduleAt(deadline, [this, token] { OnTimeout(token); }));
  }
}

void Scheduler::StartOnExecutor(const Batch& batch, uint32_t task,
                                const ExecutionRequest& request) {
  const SecretRefs* secrets = batch.secret_refs(task);
  if (secrets == nullptr) return batch.executor(task)->Start(request, *this);
  absl::StatusOr<boost::json::value> input = SubstituteSecrets(request.input, *secrets, *secrets_);
  if (!input.ok()) {
    return Complete(request.token,
                    ExecutionOutcome::Failure(std::string(input.status().message()), true));
  }
  ExecutionRequest with_secrets{
      request.token,    request.batch_id,      request.task_id,      *input,
      request.priority, request.attempt,       request.timeout_ms,   request.deadline,
      request.executor, request.load_balancer, request.dependencies, request.units_header};
  batch.executor(task)->Start(with_secrets, *this);
}

void Scheduler::HandleOutcome(const AttemptToken& token, ExecutionOutcome outcome) {
  BatchPtr batch = batches_.Current(token, TaskState::kRunning);
  if (batch == nullptr) {
    spdlog::debug("batch #{} task #{}: ignoring outcome of a stale attempt", token.batch_seq,
                  token.task);
    return;
  }
  // Before anything sees it (results, the journal, the cache, logs, dependents).
  if (const SecretRefs* secrets = batch->secret_refs(token.task)) {
    const SecretRedactor redactor(*secrets, *secrets_);
    redactor.Redact(outcome.error);
    redactor.Redact(outcome.output);
  }
  CancelTimer(*batch, token.task);
  EndAttempt(*batch, token.task);
  ReleaseLimits(*batch, token.task, &outcome);
  if (outcome.worker_lost) {
    HandleLostWorker(batch, token.task, std::move(outcome));
  } else if (outcome.success) {
    FinishTask(batch, token.task, TaskState::kSucceeded, std::move(outcome.output), {},
               std::move(outcome.worker_id));
  } else if (outcome.throttled && batch->slot(token.task).throttles < kMaxThrottledRetries) {
    ScheduleThrottledRetry(batch, token.task, outcome.retry_after_ms, std::move(outcome.error));
  } else if (!outcome.non_retryable &&
             batch->slot(token.task).retries < batch->retry_policy(token.task).max_retries) {
    ScheduleRetry(batch, token.task, outcome.retry_after_ms, std::move(outcome.error));
  } else {
    FinishTask(batch, token.task, TaskState::kFailed, std::move(outcome.output),
               std::move(outcome.error), std::move(outcome.worker_id));
  }
  runnable_.Add(batch);
}

void Scheduler::EndAttempt(Batch& batch, uint32_t task) {
  if (batch.OnAttemptEnded(task)) --running_total_;
}

void Scheduler::HandleLostWorker(const BatchPtr& batch, uint32_t task, ExecutionOutcome outcome) {
  if (batch->CountLostWorker(task) >= kMaxWorkerLosses) {
    FinishTask(batch, task, TaskState::kFailed, {},
               absl::StrCat("Worker lost ", kMaxWorkerLosses, " times (last: ", outcome.error, ")"),
               std::move(outcome.worker_id));
    return;
  }
  spdlog::info("batch {} task '{}': {}; running it again", batch->id(), batch->task_id(task),
               outcome.error);
  batch->Requeue(task, clock_.SteadyNow());
  if (std::string* events = journal_.Events(batch)) EncodeRequeued(*events, task);
  readers_.MarkChanged(batch);
}

void Scheduler::OnTimeout(const AttemptToken& token) {
  if (suspended_) return;
  BatchPtr batch = batches_.Current(token, TaskState::kRunning);
  if (batch == nullptr) return;
  batch->TakeTimer(token.task);  // it fired
  const std::string error = absl::StrCat("Timeout after ", batch->timeout_ms(token.task), " ms");
  batch->executor(token.task)->CancelBecause(token, error);
  EndAttempt(*batch, token.task);
  ReleaseLimits(*batch, token.task);
  observer_.OnTimeout(batch->executor_name(token.task));
  const RetryPolicy& policy = batch->retry_policy(token.task);
  if (policy.retry_on_timeout && batch->slot(token.task).retries < policy.max_retries) {
    ScheduleRetry(batch, token.task, std::nullopt, error);
  } else {
    FinishTask(batch, token.task, TaskState::kTimedOut, {}, error);
  }
  runnable_.Add(batch);
  Pump();
}

void Scheduler::ScheduleRetry(const BatchPtr& batch, uint32_t task,
                              std::optional<uint32_t> retry_after_ms, std::string error) {
  const RetryPolicy& policy = batch->retry_policy(task);
  uint64_t delay_ms = 0;
  if (retry_after_ms.has_value()) {
    delay_ms = *retry_after_ms;
  } else {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    delay_ms = ApplyJitter(policy.jitter, BaseRetryDelayMs(policy, batch->slot(task).retries),
                           unit(jitter_rng_));
  }
  batch->WaitForRetry(task, std::move(error));
  observer_.OnRetryScheduled(batch->executor_name(task));
  const auto delay = std::chrono::milliseconds(delay_ms);
  if (std::string* events = journal_.Events(batch)) {
    EncodeRetryWait(*events, task, batch->slot(task).retries, clock_.WallNow() + delay);
  }
  ArmRetryTimer(batch, task, clock_.SteadyNow() + delay);
  readers_.MarkChanged(batch);
}

uint32_t ThrottledRetryDelayMs(uint32_t throttles) {
  return std::min<uint32_t>(10'000, 100u << std::min<uint32_t>(throttles, 7));
}

void Scheduler::ScheduleThrottledRetry(const BatchPtr& batch, uint32_t task,
                                       std::optional<uint32_t> retry_after_ms, std::string error) {
  const uint32_t delay_ms =
      retry_after_ms.value_or(ThrottledRetryDelayMs(batch->slot(task).throttles));
  batch->WaitThrottled(task, std::move(error));
  observer_.OnRetryScheduled(batch->executor_name(task));
  const auto delay = std::chrono::milliseconds(delay_ms);
  if (std::string* events = journal_.Events(batch)) {
    // Recorded as a retry delay with the retry count unchanged: after a restart it resumes so.
    EncodeRetryWait(*events, task, batch->slot(task).retries, clock_.WallNow() + delay);
  }
  ArmRetryTimer(batch, task, clock_.SteadyNow() + delay);
  readers_.MarkChanged(batch);
}

void Scheduler::ArmRetryTimer(const BatchPtr& batch, uint32_t task, SteadyTime at) {
  const AttemptToken token = batch->attempt(task);
  batch->SetRetryDue(task, at);
  batch->SetTimer(task, timers_.ScheduleAt(at, [this, token] {
    const BatchPtr due = batches_.Current(token, TaskState::kRetryWait);
    if (due == nullptr) return;
    due->OnRetryDue(token.task, clock_.SteadyNow());
    runnable_.Add(due);
    Pump();
  }));
}

void Scheduler::CancelTimer(Batch& batch, uint32_t task) {
  if (const TimerId timer = batch.TakeTimer(task); timer != kNoTimer) timers_.Cancel(timer);
}

// ---- Shared limits ----

bool Scheduler::AcquireLimits(const BatchPtr& batch, uint32_t task, SteadyTime now) {
  const LimitTaskRef ref{batch->seq(), task};
  absl::StatusOr<LimitAcquire> a =
      limits_.Acquire(ref, batch->priority(task), batch->limits(task), now);
  if (!a.ok()) {  // e.g. its units exceed a burst lowered since it was submitted
    FinishTask(batch, task, TaskState::kFailed, {}, std::string(a.status().message()));
    return false;
  }
  if (a->granted) {
    batch->HoldLimits(task);
    return true;
  }
  batch->WaitForLimits(task, a->key, LimitBlockName(a->block));
  if (const std::optional<uint32_t> q = batch->queue_timeout_ms(); q.has_value()) {
    const AttemptToken token = batch->attempt(task);
    batch->SetTimer(task, timers_.ScheduleAt(now + std::chrono::milliseconds(*q),
                                             [this, token] { OnQueueTimeout(token); }));
  }
  readers_.MarkChanged(batch);
  return false;
}

void Scheduler::ReleaseLimits(Batch& batch, uint32_t task, const ExecutionOutcome* outcome) {
  if (!batch.DropLimits(task)) return;
  LimitRelease how;
  how.started = batch.slot(task).attempt_started;
  if (outcome != nullptr) {
    if (outcome->success) {
      how.verdict = LimitRelease::Verdict::kSucceeded;
    } else if (outcome->throttled) {
      how.verdict = LimitRelease::Verdict::kThrottled;
      if (outcome->retry_after_ms.has_value()) {
        how.pause_until = clock_.SteadyNow() + std::chrono::milliseconds(*outcome->retry_after_ms);
      }
    }
    how.units_used = outcome->units_used;
  }
  limits_.Release(batch.limits(task), how);
}

void Scheduler::LeaveLimits(Batch& batch, uint32_t task) {
  if (batch.StopWaitingForLimits(task)) limits_.Leave({batch.seq(), task});
}

void Scheduler::DrainLimits() {
  const LimitWakeups& w = limits_.Drain();
  for (const LimitTaskRef& ref : w.start) {
    const BatchPtr batch = batches_.Find(ref.batch);
    if (batch == nullptr || batch->finished() || !batch->slot(ref.task).limit_wait) {
      // Every task that stops waiting leaves the table first, so this is a bug: give them back.
      spdlog::error("batch #{} task #{}: granted limits it no longer waits for", ref.batch,
                    ref.task);
      if (batch != nullptr) limits_.Release(batch->limits(ref.task), {});
      continue;
    }
    CancelTimer(*batch, ref.task);  // its queue timeout
    batch->GrantLimits(ref.task);
    readers_.MarkChanged(batch);
    runnable_.Add(batch);
  }
  for (const auto& [ref, status] : w.refused) {
    const BatchPtr batch = batches_.Find(ref.batch);
    if (batch == nullptr || !batch->StopWaitingForLimits(ref.task)) continue;
    CancelTimer(*batch, ref.task);
    FinishTask(batch, ref.task, TaskState::kFailed, {}, std::string(status.message()));
    runnable_.Add(batch);
  }
}

void Scheduler::OnQueueTimeout(const AttemptToken& token) {
  if (suspended_) return;
  const BatchPtr batch = batches_.Current(token, TaskState::kPending);
  if (batch == nullptr || !batch->slot(token.task).limit_wait) return;
  batch->TakeTimer(token.task);  // it fired
  std::string on = "its limits";
  if (const auto waiting = limits_.WaitingFor({batch->seq(), token.task}); waiting.has_value()) {
    on = absl::StrCat("limit '", waiting->first, "' (", LimitBlockName(waiting->second), ")");
  }
  LeaveLimits(*batch, token.task);
  FinishTask(batch, token.task, TaskState::kTimedOut, {},
             absl::StrCat("Timeout after waiting ", *batch->queue_timeout_ms(), " ms for ", on));
  runnable_.Add(batch);
  Pump();
}

void Scheduler::SetLimit(LimitSpec spec, Callback<LimitState> done) {
  boost::asio::post(strand_, [this, spec = std::move(spec), done = std::move(done)]() mutable {
    limit_changes_.Set(std::move(spec), std::move(done));
  });
}

void Scheduler::DeleteLimit(std::string key, absl::AnyInvocable<void(absl::Status)> done) {
  boost::asio::post(strand_, [this, key = std::move(key), done = std::move(done)]() mutable {
    limit_changes_.Delete(std::move(key), std::move(done));
  });
}

void Scheduler::ListLimits(absl::AnyInvocable<void(std::vector<LimitState>)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)]() mutable { done(limits_.List()); });
}

void Scheduler::InvalidateCache(CacheScope scope, std::string name_space, std::string key,
                                absl::AnyInvocable<void(size_t)> done) {
  boost::asio::post(strand_, [this, scope, ns = std::move(name_space), key = std::move(key),
                              done = std::move(done)]() mutable {
    size_t removed = 0;
    switch (scope) {
      case CacheScope::kKey:
        removed = cache_.InvalidateClientKey(ns, key);
        break;
      case CacheScope::kNamespace:
        removed = cache_.InvalidateNamespace(ns);
        break;
      case CacheScope::kAll:
        removed = cache_.InvalidateAll();
        break;
    }
    cache_.Flush();
    spdlog::info("cache: {} entries invalidated", removed);
    done(removed);
  });
}

void Scheduler::GetCacheStats(absl::AnyInvocable<void(CacheGateStats, ResultCacheOptions)> done) {
  boost::asio::post(
      strand_, [this, done = std::move(done)]() mutable { done(cache_.stats(), options_.cache); });
}

void Scheduler::RestoreCache(std::vector<CacheRecord> entries,
                             std::vector<std::string> damaged_keys) {
  boost::asio::post(
      strand_, [this, entries = std::move(entries), damaged = std::move(damaged_keys)] {
        const CacheRestoreCounts counts = cache_.Restore(entries, damaged);
        if (entries.empty() && damaged.empty()) return;
        spdlog::info(
            "cache: {} entries restored from the journal ({} expired, {} damaged, {} over the "
            "bounds; dropped)",
            counts.restored, counts.expired, counts.damaged, counts.too_large);
      });
}

absl::Status Scheduler::RestoreLimit(LimitSpec spec) {
  RETURN_IF_ERROR(spec.Validate());
  // Submit may check a batch against it before the strand has run the post.
  limits_.Announce(spec);
  boost::asio::post(strand_, [this, spec = std::move(spec)]() mutable {
    const std::string key = spec.key;
    if (absl::Status s = limits_.Set(std::move(spec)); !s.ok()) {
      spdlog::error("limit '{}' not restored: {}", key, s.ToString());
    }
  });
  return absl::OkStatus();
}

// ---- Capacity parking ----

void Scheduler::Park(const BatchPtr& batch, uint32_t task, const Executor& executor) {
  batch->Park(task);
  parking_.Park(executor, batch->seq(), task, batch->priority(task),
                [this](const ParkedTask& entry) { return StillParked(entry); });
  if (batch->slot(task).timer == kNoTimer && !executor.Unserved().empty()) {
    ArmUnservedTimeout(batch, task);
  }
}

void Scheduler::Unpark(Batch& batch, uint32_t task) {
  if (batch.Unpark(task)) parking_.Leave(*batch.executor(task));
}

bool Scheduler::StillParked(const ParkedTask& p) const {
  const BatchPtr batch = batches_.Find(p.batch_seq);
  if (batch == nullptr) return false;
  const TaskSlot& slot = batch->slot(p.task);
  return slot.parked && slot.state == TaskState::kPending;
}

void Scheduler::OnCapacityChanged(Executor& executor) {
  // A woken task may not start at once (its batch is at max_concurrent, or runs another task
  // first) and may never start (its batch is cancelled): while a slot stays free, pump and wake
  // more, so no slot idles next to a parked task.
  while (WakeParked(executor) > 0) Pump();
  if (parking_.waiting(executor) > 0 && !executor.Unserved().empty()) {
    // The last worker left: tasks waiting for a slot now wait for a worker, up to their timeout.
    for (const ParkedTask& p : parking_.Waiting(
             executor, [this](const ParkedTask& entry) { return StillParked(entry); })) {
      const BatchPtr batch = batches_.Find(p.batch_seq);
      if (batch->slot(p.task).timer == kNoTimer) ArmUnservedTimeout(batch, p.task);
    }
  }
  Pump();
}

uint32_t Scheduler::WakeParked(Executor& executor) {
  uint32_t woken = 0;
  for (const uint32_t free = executor.FreeCapacity(); woken < free; ++woken) {
    const std::optional<ParkedTask> p =
        parking_.Wake(executor, [this](const ParkedTask& entry) { return StillParked(entry); });
    if (!p.has_value()) break;
    const BatchPtr batch = batches_.Find(p->batch_seq);
    CancelTimer(*batch, p->task);
    batch->Wake(p->task);
    runnable_.Add(batch);
  }
  return woken;
}

void Scheduler::ArmUnservedTimeout(const BatchPtr& batch, uint32_t task) {
  const AttemptToken token = batch->attempt(task);
  batch->SetTimer(task, timers_.ScheduleAt(
                            clock_.SteadyNow() + std::chrono::milliseconds(batch->timeout_ms(task)),
                            [this, token] { OnUnservedTimeout(token); }));
}

void Scheduler::OnUnservedTimeout(const AttemptToken& token) {
  if (suspended_) return;
  const BatchPtr batch = batches_.Current(token, TaskState::kPending);
  if (batch == nullptr || !batch->slot(token.task).parked) return;
  batch->TakeTimer(token.task);  // it fired
  std::string error = batch->executor(token.task)->Unserved();
  if (error.empty()) return;  // a worker serves it now: it waits for a free slot
  Unpark(*batch, token.task);
  FinishTask(batch, token.task, TaskState::kFailed, {}, std::move(error));
  runnable_.Add(batch);
  Pump();
}

// ---- Finishing tasks and batches ----

void Scheduler::FinishTask(const BatchPtr& batch, uint32_t task, TaskState state,
                           boost::json::value output, std::string error, std::string worker_id) {
  const SteadyTime now = clock_.SteadyNow();  // one clock read per finished task
  batch->Record(task, state, std::move(output), std::move(error), now, std::move(worker_id));
  ReportFinished(batch, task);
  readers_.MarkChanged(batch);
  ApplyDependencyPolicy(batch, task, now);
  MaybeFinishBatch(batch);
}

// ---- Result cache ----

bool Scheduler::LookUpCache(const BatchPtr& batch, uint32_t task) {
  const SteadyTime now = clock_.SteadyNow();
  const CacheEntry* hit = nullptr;
  switch (cache_.Look(*batch, task, now, &hit)) {
    case CacheGate::Verdict::kRun:
      return true;
    case CacheGate::Verdict::kWait:
      readers_.MarkChanged(batch);
      return false;
    case CacheGate::Verdict::kHit:
      FinishCached(batch, task, hit->output, hit->origin, now);
      return false;
  }
  return true;
}

void Scheduler::FinishCached(const BatchPtr& batch, uint32_t task, boost::json::value output,
                             std::shared_ptr<const CachedFrom> origin, SteadyTime now) {
  batch->RecordCached(task, std::move(output), std::move(origin), now);
  ReportFinished(batch, task);
  readers_.MarkChanged(batch);
  ApplyDependencyPolicy(batch, task, now);
  MaybeFinishBatch(batch);
  runnable_.Add(batch);  // its dependents may be ready
}

bool Scheduler::WaitsForCache(FlightTask task) const {
  const BatchPtr batch = batches_.Find(task.batch);
  return batch != nullptr && !batch->finished() &&
         batch->slot(task.task).cache == CacheStage::kWaiting &&
         batch->slot(task.task).state == TaskState::kPending;
}

void Scheduler::ApplyCacheHandoffs() {
  applying_.swap(cache_handoffs_);
  const SteadyTime now = clock_.SteadyNow();
  for (CacheHandoff& h : applying_) {
    for (const FlightTask& w : h.waiters) {
      if (!WaitsForCache(w)) continue;  // cancelled meanwhile
      FinishCached(batches_.Find(w.batch), w.task, h.output->output, h.output->origin, now);
    }
    if (h.next.has_value() && WaitsForCache(*h.next)) {
      const BatchPtr batch = batches_.Find(h.next->batch);
      batch->TakeOverCacheFlight(h.next->task, now);
      readers_.MarkChanged(batch);
      runnable_.Add(batch);
    }
  }
  applying_.clear();
}

void Scheduler::ApplyDependencyPolicy(const BatchPtr& batch, uint32_t task, SteadyTime now) {
  switch (batch->FateOfDependents(batch->slot(task).state)) {
    case Batch::DependentsFate::kRelease:
      batch->ReleaseDependents(task, now);
      break;
    case Batch::DependentsFate::kSkip:
      batch->SkipDependents(task, now, [&](uint32_t skipped) { ReportFinished(batch, skipped); });
      break;
    case Batch::DependentsFate::kCancelBatch:
      CancelBatch(batch, absl::StrCat("task '", batch->task_id(task), "' failed"));
      break;
  }
}

void Scheduler::ReportFinished(const BatchPtr& batch, uint32_t task) {
  const TaskResult* r = batch->result(task);
  observer_.OnTaskFinished(batch->executor_name(task), r->state,
                           std::chrono::duration_cast<Duration>(
                               std::chrono::duration<double, std::milli>(r->duration_ms)));
  journal_.Result(batch, *r);
  if (batch->slot(task).cache == CacheStage::kRuns) {
    std::optional<CacheHandoff> handoff = cache_.Finished(
        *batch, task, *r, clock_.SteadyNow(), [this](FlightTask t) { return WaitsForCache(t); });
    if (handoff.has_value()) {
      cache_handoffs_.push_back(std::move(*handoff));
      if (!pumping_) PostPump();
    }
  }
}

void Scheduler::CancelBatch(const BatchPtr& batch, std::string reason) {
  if (batch->finished() || batch->cancel_requested()) return;
  spdlog::info("batch {} cancelled: {}", batch->id(), reason);
  const std::string error = absl::StrCat("Cancelled: ", reason);
  if (std::string* events = journal_.Events(batch)) EncodeCancelled(*events, reason);
  batch->MarkCancelled(std::move(reason));
  CancelRemaining(batch, error);
  readers_.MarkChanged(batch);
  MaybeFinishBatch(batch);
}

void Scheduler::CancelRemaining(const BatchPtr& batch, const std::string& error) {
  const SteadyTime now = clock_.SteadyNow();
  for (uint32_t t = 0; t < batch->size(); ++t) {
    if (IsFinal(batch->slot(t).state)) continue;
    StopTask(*batch, t, error);
    batch->Record(t, TaskState::kCancelled, {}, error, now);
    ReportFinished(batch, t);
  }
}

void Scheduler::StopTask(Batch& batch, uint32_t task, const std::string& error) {
  CancelTimer(batch, task);
  Unpark(batch, task);
  LeaveLimits(batch, task);
  batch.StopWaitingForCache(task);
  if (batch.slot(task).state == TaskState::kRunning) {
    batch.executor(task)->CancelBecause(batch.attempt(task), error);
    EndAttempt(batch, task);
  }
  ReleaseLimits(batch, task);  // held while running, or granted and not started yet
}

void Scheduler::CancelOne(const BatchPtr& batch, uint32_t task, const std::string& error) {
  spdlog::info("batch {} task '{}' {}", batch->id(), batch->task_id(task), error);
  StopTask(*batch, task, error);
  FinishTask(batch, task, TaskState::kCancelled, {}, error);
  runnable_.Add(batch);  // its dependents may be ready (RUN_DEPENDENTS)
}

void Scheduler::MaybeFinishBatch(const BatchPtr& batch) {
  if (batch->finished() || !batch->AllFinal() || batch->running() > 0) return;
  if (!batch->may_finish() && !batch->cancel_requested()) {
    // Open: it waits for more tasks (AddTasks) until closed, or idle for its bound.
    if (batch->idle_since == SteadyTime{}) batch->idle_since = clock_.SteadyNow();
    ArmIdleClose(batch);
    return;
  }
  batch->Finish(clock_.SteadyNow());
  if (std::string* events = journal_.Events(batch)) EncodeFinished(*events, clock_.WallNow());
  admitter_.Finished();
  observer_.OnBatchFinished(batch->state());
  readers_.MarkChanged(batch);
  const BatchSummary s = batch->Summary();
  spdlog::info("batch {} finished {}: {} tasks, {} succeeded, {} failed, {} retried, {:.1f} ms",
               batch->id(), BatchStateName(s.state), s.total_tasks, s.successful_count,
               s.failed_count, s.retried_count, s.total_duration_ms);
  retention_.Add(batch);
}

void Scheduler::Evict(const BatchPtr& batch) {
  if (options_.journal != nullptr) options_.journal->Forget(batch->seq());
  admitter_.Forget(*batch);
  batch->Retire();
  batches_.Remove(*batch);
}

// ---- Readers ----

template <typename T, typename Read>
void Scheduler::OnBatch(std::string batch_id, Callback<T> done, Read read) {
  boost::asio::post(strand_, [this, id = std::move(batch_id), done = std::move(done),
                              read = std::move(read)]() mutable {
    BatchPtr batch = batches_.Find(id);
    if (batch == nullptr) return done(BatchReaders::NotFound(id));
    read(std::move(batch), std::move(done));
  });
}

void Scheduler::GetSummary(std::string batch_id, Callback<BatchSummary> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [](BatchPtr batch, Callback<BatchSummary> reply) { reply(batch->Summary()); });
}

void Scheduler::WaitForCompletion(std::string batch_id, Callback<BatchSummary> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this](BatchPtr batch, Callback<BatchSummary> reply) {
            readers_.WaitForCompletion(std::move(batch), std::move(reply));
          });
}

void Scheduler::GetProgress(std::string batch_id, Callback<BatchProgress> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [](BatchPtr batch, Callback<BatchProgress> reply) { reply(batch->Progress()); });
}

void Scheduler::WatchProgress(std::string batch_id, uint64_t after_version, SteadyTime not_before,
                              Callback<ProgressUpdate> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this, after_version, not_before](BatchPtr batch, Callback<ProgressUpdate> reply) {
            readers_.WatchProgress(std::move(batch), after_version, not_before, std::move(reply));
          });
}

void Scheduler::ReadResults(std::string batch_id, uint64_t after_sequence,
                            Callback<ResultChunk> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this, after_sequence](BatchPtr batch, Callback<ResultChunk> reply) {
            readers_.ReadResults(std::move(batch), after_sequence, std::move(reply));
          });
}

void Scheduler::ReadTaskOutput(std::string batch_id, std::string task_id, uint64_t after_offset,
                               Callback<TaskOutputRead> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this, task_id = std::move(task_id), after_offset](
              BatchPtr batch, Callback<TaskOutputRead> reply) mutable {
            const std::optional<uint32_t> task = batch->FindTask(task_id);
            if (!task.has_value()) return reply(NoSuchTask(*batch, task_id));
            ReadOutputOnStrand(std::move(batch), *task, after_offset, std::move(reply));
          });
}

void Scheduler::ReadOutputOnStrand(BatchPtr batch, uint32_t task, uint64_t after_offset,
                                   Callback<TaskOutputRead> done) {
  if (suspended_) return done(BatchReaders::Suspended(*batch));
  const TaskOutputLog* log = batch->output(task);
  if (log != nullptr && log->end() > after_offset) {
    TaskOutputLog::Slice slice = log->Read(after_offset, kMaxOutputRead);
    return done(TaskOutputRead{slice.offset, std::move(slice.data), slice.dropped, nullptr, {}});
  }
  if (const TaskResult* result = batch->result(task)) {
    return done(TaskOutputRead{log != nullptr ? log->end() : 0, {}, 0, result, batch});
  }
  if (batch->retired()) return done(BatchReaders::NotFound(batch->id()));
  Batch& b = *batch;
  b.change_waiters().push_back(
      [this, batch = std::move(batch), task, after_offset, done = std::move(done)]() mutable {
        ReadOutputOnStrand(std::move(batch), task, after_offset, std::move(done));
      });
}

void Scheduler::ListBatches(size_t limit,
                            absl::AnyInvocable<void(std::vector<BatchProgress>)> done) {
  boost::asio::post(
      strand_, [this, limit, done = std::move(done)]() mutable { done(batches_.List(limit)); });
}

void Scheduler::ListBatches(BatchListQuery query, absl::AnyInvocable<void(BatchPage)> done) {
  boost::asio::post(strand_, [this, query = std::move(query), done = std::move(done)]() mutable {
    done(batches_.List(query));
  });
}

void Scheduler::ListTasks(std::string batch_id, TaskListQuery query, Callback<TaskPage> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this, query = std::move(query)](BatchPtr batch, Callback<TaskPage> reply) {
            const TaskListingContext context{clock_.SteadyNow(), options_.max_running,
                                             running_total_ >= options_.max_running};
            reply(core::ListTasks(*batch, query, context));
          });
}

void Scheduler::Cancel(std::string batch_id, std::string reason, Callback<BatchProgress> done) {
  OnBatch(
      std::move(batch_id), std::move(done),
      [this, reason = std::move(reason)](BatchPtr batch, Callback<BatchProgress> reply) mutable {
        if (suspended_) return reply(BatchReaders::Suspended(*batch));
        if (batch->finished()) {
          return reply(absl::FailedPreconditionError(
              absl::StrCat("Batch '", batch->id(), "' already finished (",
                           BatchStateName(batch->state()), ")")));
        }
        CancelBatch(batch, reason.empty() ? std::string("cancelled by client") : std::move(reason));
        Pump();
        reply(batch->Progress());
      });
}

void Scheduler::CancelTask(std::string batch_id, std::string task_id, std::string reason,
                           Callback<TaskUpdate> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this, task_id = std::move(task_id), reason = std::move(reason)](
              BatchPtr batch, Callback<TaskUpdate> reply) mutable {
            if (suspended_) return reply(BatchReaders::Suspended(*batch));
            const std::optional<uint32_t> task = batch->FindTask(task_id);
            if (!task.has_value()) return reply(NoSuchTask(*batch, task_id));
            if (IsFinal(batch->slot(*task).state)) return reply(TaskAlreadyFinished(*batch, *task));
            if (batch->finished()) return reply(BatchAlreadyFinished(*batch));
            CancelOne(batch, *task,
                      absl::StrCat("Cancelled: ", reason.empty() ? "cancelled by client" : reason));
            Pump();
            AnswerWhenDurable(batch, *task, std::move(reply));
          });
}

absl::Status Scheduler::CheckCompletion(const Batch& batch, uint32_t task,
                                        const std::string& client_token) {
  const TaskSlot& slot = batch.slot(task);
  const std::string& id = batch.task_id(task);
  if (!batch.finished() && !batch.executor(task)->CompletedByClient()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Task '", id, "' runs on executor '", batch.executor_name(task),
                     "', which completes its own tasks (CompleteTask completes tasks of "
                     "'external')"));
  }
  const Batch::ClientCompletion* completion = batch.client_completion(task);
  if (completion == nullptr) {
    if (IsFinal(slot.state)) return TaskAlreadyFinished(batch, task);
    return absl::FailedPreconditionError(
        absl::StrCat("Task '", id, "' of batch '", batch.id(), "' is not running (",
                     TaskStateName(slot.state), "): it has no completion token yet"));
  }
  if (slot.awaits_client && SameToken(client_token, completion->token)) return absl::OkStatus();
  const bool issued = SameToken(client_token, completion->token) ||
                      std::any_of(completion->spent.begin(), completion->spent.end(),
                                  [&](const std::string& t) { return SameToken(client_token, t); });
  if (!issued) {
    return absl::PermissionDeniedError(
        absl::StrCat("The token does not match task '", id, "' of batch '", batch.id(), "'"));
  }
  if (IsFinal(slot.state)) return TaskAlreadyFinished(batch, task);
  return absl::FailedPreconditionError(
      absl::StrCat("The token is of an earlier attempt of task '", id, "' of batch '", batch.id(),
                   "' (it is now ", TaskStateName(slot.state), " after ", slot.retries,
                   slot.retries == 1 ? " retry)" : " retries)"));
}

void Scheduler::CompleteTask(std::string batch_id, std::string task_id, std::string token,
                             ExecutionOutcome outcome, Callback<TaskUpdate> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this, task_id = std::move(task_id), token = std::move(token),
           outcome = std::move(outcome)](BatchPtr batch, Callback<TaskUpdate> reply) mutable {
            if (suspended_) return reply(BatchReaders::Suspended(*batch));
            const std::optional<uint32_t> task = batch->FindTask(task_id);
            if (!task.has_value()) return reply(NoSuchTask(*batch, task_id));
            if (absl::Status s = CheckCompletion(*batch, *task, token); !s.ok()) {
              return reply(std::move(s));
            }
            spdlog::info("batch {} task '{}' completed by a client: {}", batch->id(), task_id,
                         outcome.success ? "succeeded" : "failed");
            HandleOutcome(batch->attempt(*task), std::move(outcome));
            Pump();
            AnswerWhenDurable(batch, *task, std::move(reply));
          });
}

void Scheduler::AnswerWhenDurable(const BatchPtr& batch, uint32_t task, Callback<TaskUpdate> done) {
  WhenRecorded(batch, [batch, task, done = std::move(done)](absl::Status status) mutable {
    if (!status.ok()) return done(std::move(status));
    TaskUpdate update;
    update.state = batch->slot(task).state;
    update.retry_count = batch->slot(task).retries;
    update.result = batch->result(task);
    update.keep_alive = batch;
    done(std::move(update));
  });
}

void Scheduler::WhenRecorded(const BatchPtr& batch, absl::AnyInvocable<void(absl::Status)> done) {
  // Pump flushed this turn's events: every event so far is in an appended chunk.
  if (!batch->journaled() || batch->durable_chunks() >= batch->chunks_appended) {
    return done(absl::OkStatus());
  }
  durable_waiters_.push_back({batch->seq(), batch->chunks_appended, std::move(done)});
}

void Scheduler::AddTasks(AddTasksCall call, Callback<AddTasksResult> done) {
  std::string batch_id = call.batch_id;  // the lambda below takes `call` whole
  OnBatch(std::move(batch_id), std::move(done),
          [this, call = std::move(call)](BatchPtr batch, Callback<AddTasksResult> reply) mutable {
            if (suspended_) return reply(BatchReaders::Suspended(*batch));
            const uint64_t digest = AddTasksDigest(call.content);
            if (!call.request_id.empty()) {
              const auto it = batch->add_requests().find(call.request_id);
              if (it != batch->add_requests().end()) {
                if (it->second != digest) {
                  return reply(absl::AlreadyExistsError(
                      absl::StrCat("request_id '", call.request_id,
                                   "' already added other tasks to batch '", batch->id(), "'")));
                }
                return WhenRecorded(batch,
                                    [batch, reply = std::move(reply)](absl::Status status) mutable {
                                      if (!status.ok()) return reply(std::move(status));
                                      reply(AddTasksResult{batch->size(), true});
                                    });
              }
            }
            if (absl::Status open = CheckAcceptsTasks(*batch); !open.ok()) {
              return reply(std::move(open));
            }
            if (batch->size() + call.tasks.size() > call.max_total_tasks) {
              return reply(InvalidField(
                  "tasks",
                  absl::StrCat("Batch '", batch->id(), "' has ", batch->size(), " tasks; adding ",
                               call.tasks.size(), " would pass the limit of ", call.max_total_tasks,
                               " (--max-batch-tasks)")));
            }
            absl::StatusOr<uint32_t> first =
                batch->Extend(std::move(call.tasks), registry_, &limits_.catalog(), secrets_.get());
            if (!first.ok()) return reply(std::move(first).status());
            if (!call.request_id.empty()) batch->add_requests()[call.request_id] = digest;
            if (std::string* events = journal_.Events(batch)) {
              EncodeAdded(*events, call.request_id, call.content);
            }
            spdlog::info("batch {}: {} tasks added ({} in all)", batch->id(),
                         batch->size() - *first, batch->size());
            StartAdded(batch, *first);
            if (call.close) CloseOpenBatch(batch);
            Pump();
            WhenRecorded(batch, [batch, reply = std::move(reply)](absl::Status status) mutable {
              if (!status.ok()) return reply(std::move(status));
              reply(AddTasksResult{batch->size(), false});
            });
          });
}

absl::Status Scheduler::CheckAcceptsTasks(const Batch& batch) {
  if (batch.finished()) return BatchAlreadyFinished(batch);
  if (batch.cancel_requested()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Batch '", batch.id(), "' is cancelled: it takes no more tasks"));
  }
  if (batch.closed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Batch '", batch.id(), "' is closed: it takes no more tasks"));
  }
  return absl::OkStatus();
}

void Scheduler::StartAdded(const BatchPtr& batch, uint32_t first) {
  const SteadyTime now = clock_.SteadyNow();
  batch->idle_since = SteadyTime{};
  // Dependencies that had failed: their policy reaches the added tasks now (SKIP_DEPENDENTS
  // skips them; CANCEL_BATCH cancelled the batch, which then takes no tasks).
  absl::flat_hash_set<uint32_t> failed;
  for (uint32_t t = first; t < batch->size(); ++t) {
    for (uint32_t d : batch->graph().Dependencies(t)) {
      const TaskState state = batch->slot(d).state;
      if (d < first && IsFinal(state) &&
          batch->FateOfDependents(state) != Batch::DependentsFate::kRelease) {
        failed.insert(d);
      }
    }
  }
  for (uint32_t d : failed) ApplyDependencyPolicy(batch, d, now);
  batch->ReadyAdded(first, now);
  readers_.MarkChanged(batch);
  runnable_.Add(batch);
  MaybeFinishBatch(batch);  // every added task may have been skipped
}

void Scheduler::CloseBatch(std::string batch_id, Callback<BatchProgress> done) {
  OnBatch(std::move(batch_id), std::move(done),
          [this](BatchPtr batch, Callback<BatchProgress> reply) mutable {
            if (suspended_) return reply(BatchReaders::Suspended(*batch));
            if (batch->finished()) return reply(BatchAlreadyFinished(*batch));
            CloseOpenBatch(batch);
            Pump();
            WhenRecorded(batch, [batch, reply = std::move(reply)](absl::Status status) mutable {
              if (!status.ok()) return reply(std::move(status));
              reply(batch->Progress());
            });
          });
}

void Scheduler::CloseOpenBatch(const BatchPtr& batch) {
  if (batch->closed()) return;
  batch->Close();
  if (std::string* events = journal_.Events(batch)) EncodeClosed(*events);
  if (batch->idle_timer != kNoTimer) timers_.Cancel(std::exchange(batch->idle_timer, kNoTimer));
  readers_.MarkChanged(batch);
  MaybeFinishBatch(batch);
}

void Scheduler::ArmIdleClose(const BatchPtr& batch) {
  if (!batch->close_after_idle_ms().has_value() || batch->idle_timer != kNoTimer) return;
  if (batch->idle_since == SteadyTime{}) batch->idle_since = clock_.SteadyNow();
  const SteadyTime at =
      batch->idle_since + std::chrono::milliseconds(*batch->close_after_idle_ms());
  std::weak_ptr<Batch> weak = batch;
  batch->idle_timer = timers_.ScheduleAt(at, [this, weak] {
    const BatchPtr b = weak.lock();
    if (b == nullptr || suspended_) return;
    b->idle_timer = kNoTimer;
    if (b->finished() || b->closed() || !b->AllFinal() || b->running() > 0) return;
    if (b->idle_since == SteadyTime{}) return;  // tasks were added: armed again when idle
    if (clock_.SteadyNow() < b->idle_since + std::chrono::milliseconds(*b->close_after_idle_ms())) {
      return ArmIdleClose(b);  // idle again since, for less than the bound
    }
    spdlog::info("batch {} closed after {} ms idle", b->id(), *b->close_after_idle_ms());
    CloseOpenBatch(b);
    Pump();
  });
}

void Scheduler::Snapshot(absl::AnyInvocable<void(SchedulerGauges)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)]() mutable {
    SchedulerGauges g;
    g.active_batches = batches_.size() - retention_.size();
    g.running_tasks = running_total_;
    for (const auto& [seq, batch] : batches_.by_seq()) g.ready_tasks += batch->ready_count();
    g.waiting_for_worker_tasks = parking_.waiting();
    g.throttled_tasks = limits_.waiting();
    g.limits = limits_.List();
    const CacheGateStats cache = cache_.stats();
    g.cache = cache.store;
    g.cache_joins = cache.joins;
    g.cache_flights = cache.flights;
    g.cache_max_bytes = options_.cache.max_bytes;
    done(std::move(g));
  });
}

void Scheduler::CountUnfinished(absl::AnyInvocable<void(size_t)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)]() mutable {
    done(batches_.size() - retention_.size());
  });
}

// ---- Journal ----

void Scheduler::OnDurable(std::vector<DurableMark> marks) {
  for (const DurableMark& m : marks) {
    const BatchPtr batch = batches_.Find(m.batch_seq);
    if (batch == nullptr) continue;
    batch->MarkDurable(m.visible_results, m.finished, m.chunk);
    readers_.MarkChanged(batch);
  }
  for (size_t i = 0; i < durable_waiters_.size();) {
    const BatchPtr batch = batches_.Find(durable_waiters_[i].batch_seq);
    if (batch != nullptr && batch->durable_chunks() < durable_waiters_[i].chunk) {
      ++i;
      continue;
    }
    auto done = std::move(durable_waiters_[i].done);
    durable_waiters_.erase(durable_waiters_.begin() + static_cast<std::ptrdiff_t>(i));
    done(absl::OkStatus());
  }
  readers_.NotifyChanged();
}

// ---- Shutdown and recovery ----

void Scheduler::CancelAll(std::string reason) {
  boost::asio::post(strand_, [this, reason = std::move(reason)] {
    for (const BatchPtr& batch : batches_.Unfinished()) CancelBatch(batch, reason);
    Pump();
  });
}

void Scheduler::Suspend(std::string reason) {
  boost::asio::post(strand_, [this, reason = std::move(reason)] {
    journal_.Stop();
    suspended_ = true;
    readers_.Suspend();
    for (DurableWaiter& w : std::exchange(durable_waiters_, {})) {
      const BatchPtr batch = batches_.Find(w.batch_seq);
      w.done(absl::UnavailableError(
          absl::StrCat("batchd is shutting down before the change to batch ",
                       batch != nullptr ? batch->id() : "?",
                       " was stored; look at the task again once the daemon restarts")));
    }
    for (const auto& [seq, batch] : batches_.by_seq()) {
      if (batch->finished()) continue;
      for (uint32_t t = 0; t < batch->size(); ++t) {
        CancelTimer(*batch, t);
        if (batch->slot(t).state == TaskState::kRunning) {
          batch->executor(t)->CancelBecause(batch->attempt(t), reason);
        }
      }
      readers_.MarkChanged(batch);
    }
    readers_.NotifyChanged();
  });
}

absl::Status Scheduler::Restore(RecoveredBatch recovered) {
  ASSIGN_OR_RETURN(BatchPtr batch, admitter_.Restore(std::move(recovered.spec), recovered.record));
  boost::asio::post(
      strand_, [this, batch = std::move(batch), events = std::move(recovered.events)]() mutable {
        Replay(batch, std::move(events));
      });
  return absl::OkStatus();
}

void Scheduler::Replay(const BatchPtr& batch, std::vector<JournalEvent> events) {
  batches_.Add(batch);
  const ReplayedJournal replayed = ReplayJournal(
      *batch, std::move(events), clock_, [this](Batch& b, std::vector<TaskSpec> tasks) {
        return b.Extend(std::move(tasks), registry_, &limits_.catalog(), secrets_.get()).status();
      });
  if (!replayed.extend_error.ok()) {
    // Its added tasks no longer validate (an executor or secret is gone): what remains of it
    // is cancelled rather than run without them.
    spdlog::error("batch {}: tasks it had added cannot be restored: {}", batch->id(),
                  replayed.extend_error.ToString());
    if (!batch->cancel_requested()) {
      batch->MarkCancelled(
          absl::StrCat("tasks it had added cannot be restored: ", replayed.extend_error.message()));
    }
  }
  if (replayed.finished) {
    retention_.AddRecovered(batch);
    return;
  }
  admitter_.Resumed();
  ResumeRecovered(batch, replayed.retry_due);
}

void Scheduler::ResumeRecovered(const BatchPtr& batch, const std::vector<WallTime>& retry_due) {
  const SteadyTime now = clock_.SteadyNow();
  const WallTime wall_now = clock_.WallNow();
  uint32_t rerun = 0;
  for (uint32_t t = 0; t < batch->size(); ++t) {
    const TaskState state = batch->slot(t).state;
    if (state == TaskState::kRunning && batch->slot(t).awaits_client) {
      // Waiting for a client's CompleteTask: it waits on, with the same token (its timeout, if
      // it has one, starts again).
      batch->ResumeAwaiting(t, now);
      if (batch->timeout_ms(t) != Batch::kNoTimeout) {
        const AttemptToken token = batch->attempt(t);
        batch->SetTimer(t, timers_.ScheduleAt(now + std::chrono::milliseconds(batch->timeout_ms(t)),
                                              [this, token] { OnTimeout(token); }));
      }
    } else if (state == TaskState::kRunning) {
      // It was running when the daemon stopped: run it again, the lost attempt counted.
      batch->RerunInterrupted(t);
      ++rerun;
    } else if (state == TaskState::kRetryWait) {
      // A retry delay is at most 2^32 ms (~50 days): more means a clock jump or corruption.
      const auto remaining =
          std::clamp<Duration>(std::chrono::duration_cast<Duration>(retry_due[t] - wall_now),
                               Duration::zero(), std::chrono::milliseconds(UINT32_MAX));
      ArmRetryTimer(batch, t, now + remaining);
    }
  }
  spdlog::info("batch {} recovered: {} of {} tasks final, {} interrupted attempts run again",
               batch->id(), batch->completed(), batch->size(), rerun);
  // Consequences of failures that the crash may have cut short (any final task that did not
  // succeed counts: a journal from an older or damaged file may hold a skipped or cancelled
  // task whose dependents are still pending). Released dependents were counted by the replay.
  for (uint32_t t = 0; t < batch->size() && !batch->cancel_requested(); ++t) {
    const TaskState state = batch->slot(t).state;
    if (!IsFinal(state) || batch->FateOfDependents(state) == Batch::DependentsFate::kRelease) {
      continue;
    }
    ApplyDependencyPolicy(batch, t, now);
  }
  if (batch->cancel_requested()) {
    CancelRemaining(batch, absl::StrCat("Cancelled: ", batch->cancel_reason()));
  }
  batch->RebuildReady();
  readers_.MarkChanged(batch);
  runnable_.Add(batch);
  MaybeFinishBatch(batch);
  Pump();
}

}  // namespace batchd::core
