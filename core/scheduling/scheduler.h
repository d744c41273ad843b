// The scheduler: owns every batch's run state on one strand, starts ready tasks (highest
// priority first) within each batch's max_concurrent and the daemon-wide max_running shared
// round-robin between batches, enforces timeouts, schedules retries with backoff, propagates
// failures to dependents, and serves results and progress to any number of readers.
// Submit is thread-safe and validates on the caller's thread; every other public method posts
// onto the strand and calls its callback there (callbacks must not block).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/journal/journal.h"
#include "core/journal/journal_events.h"
#include "core/limits/limit_table.h"
#include "core/model/batch_listing.h"
#include "core/model/batch_spec.h"
#include "core/model/task_result.h"
#include "core/model/task_status.h"
#include "core/scheduling/batch.h"
#include "core/scheduling/batch_admitter.h"
#include "core/scheduling/batch_readers.h"
#include "core/scheduling/batch_retention.h"
#include "core/scheduling/batch_table.h"
#include "core/scheduling/cache_gate.h"
#include "core/scheduling/limit_changes.h"
#include "core/scheduling/limit_gate.h"
#include "core/scheduling/parking_lot.h"
#include "core/scheduling/runnable_ring.h"
#include "core/scheduling/scheduler_observer.h"
#include "core/scheduling/task_listing.h"
#include "core/scheduling/turn_journal.h"
#include "core/time/clock.h"
#include "core/time/timer_service.h"

namespace batchd::core {

struct SchedulerOptions {
  uint32_t max_running = 1024;  // daemon-wide running attempts
  Duration retention = std::chrono::hours(1);
  size_t max_finished_batches = 10000;
  // Per ReadResults answer (1 for STREAMING). A count, not bytes: the server measures each
  // result in the proto it builds anyway and splits an answer into messages by size
  // (server/rpc/result_packer.h); an estimate here would be a second, looser measure.
  size_t max_results_per_chunk = 1024;
  uint32_t max_steps_per_turn = 4096;     // strand fairness: yield after this many steps
  size_t max_active_batches = 10000;      // unfinished batches; more are refused
  SchedulerObserver* observer = nullptr;  // optional; must outlive the scheduler
  // Optional; when set, a batch runs only once its record is durable, its progress is recorded
  // and readers see only what is durable. Must outlive the scheduler's strand work.
  Journal* journal = nullptr;
  LimitTableOptions limits;  // shared limits: how many keys, the adaptive back-off
  ResultCacheOptions cache;  // the result cache's byte budget and per-entry bound
  // The secrets task inputs may refer to (--secrets-file); null: none is defined.
  std::shared_ptr<const SecretStore> secrets;
  // Partial output kept per task for StreamTaskOutput (the newest bytes).
  size_t max_task_output_bytes = 1 << 20;
};

// A task lost with its worker this many times fails instead of running again.
inline constexpr uint8_t kMaxWorkerLosses = 3;
// Throttled attempts (429, 503, a worker's `throttled`) run again this many times without
// spending the task's retry budget; past it a throttled attempt counts as an ordinary failure.
inline constexpr uint8_t kMaxThrottledRetries = 20;
// Their delay when the service gave no Retry-After: 100 ms doubling per throttle, up to 10 s.
uint32_t ThrottledRetryDelayMs(uint32_t throttles);

class Scheduler final : private CompletionSink, public CapacityListener {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  template <typename T>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<T>)>;

  Scheduler(Strand strand, const Clock& clock, TimerService& timers, ExecutorRegistry& registry,
            SchedulerOptions options);
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Validates and enqueues; INVALID_ARGUMENT with field violations on a bad batch,
  // RESOURCE_EXHAUSTED when max_active_batches are unfinished. With a journal the batch is
  // admitted (runs, is listed) only once its record is durable: see WhenDurable. Layers are
  // computed only `with_layers` (SubmitBatch answers them; ProcessBatch does not).
  // `content` is the request's durable form: what the journal stores and what makes two
  // submissions with the same request_id "the same" (ALREADY_EXISTS when it differs).
  absl::StatusOr<SubmitResult> Submit(BatchSpec spec, bool with_layers = false,
                                      std::string content = {}) {
    return admitter_.Submit(std::move(spec), with_layers, std::move(content));
  }
  // Calls `done` once the submitted batch is durable and admitted (at once without a
  // journal), from any thread; UNAVAILABLE when the journal cannot store it — then nothing of
  // it runs, it is not listed and its request_id is free again.
  void WhenDurable(const SubmitResult& submitted, absl::AnyInvocable<void(absl::Status)> done) {
    BatchAdmitter::WhenDurable(submitted, std::move(done));
  }
  bool journaled() const { return options_.journal != nullptr; }

  // Start-up only, before serving: rebuilds a batch read from the journal; an unfinished one
  // resumes (tasks that were running run again, counted as a retry; retry delays resume).
  // Not OK when the batch no longer validates (e.g. its executor is gone).
  absl::Status Restore(RecoveredBatch recovered);

  // NOT_FOUND for unknown ids in every method below.
  void GetSummary(std::string batch_id, Callback<BatchSummary> done);
  void WaitForCompletion(std::string batch_id, Callback<BatchSummary> done);
  void GetProgress(std::string batch_id, Callback<BatchProgress> done);
  // Calls back once the batch's version exceeds `after_version` (or at once when
  // after_version is 0), not before `not_before`; final == true once the batch finished.
  void WatchProgress(std::string batch_id, uint64_t after_version, SteadyTime not_before,
                     Callback<ProgressUpdate> done);
  // Calls back once results after `after_sequence` exist (at most max_results_per_chunk), or
  // with the summary when the reader is at the end of a finished batch.
  void ReadResults(std::string batch_id, uint64_t after_sequence, Callback<ResultChunk> done);
  // Newest first; limit 0 = all.
  void ListBatches(size_t limit, absl::AnyInvocable<void(std::vector<BatchProgress>)> done);
  // The batches `query` selects (state, labels), newest first, one page (BatchTable::List).
  void ListBatches(BatchListQuery query, absl::AnyInvocable<void(BatchPage)> done);
  // One page of the batch's tasks as they are now (core/scheduling/task_listing.h).
  void ListTasks(std::string batch_id, TaskListQuery query, Callback<TaskPage> done);
  // FAILED_PRECONDITION when the batch already finished.
  void Cancel(std::string batch_id, std::string reason, Callback<BatchProgress> done);
  // AddTasks: appends `tasks` to the batch (see Batch::Extend) when it is not finished, closed or
  // cancelled (FAILED_PRECONDITION), and answers once the addition is durable. The same
  // request_id with the same content answers the same without adding; with other content,
  // ALREADY_EXISTS. `content` is the request's durable form (what the journal stores).
  struct AddTasksCall {
    std::string batch_id;
    std::string request_id;
    std::vector<TaskSpec> tasks;
    std::string content;
    bool close = false;
    size_t max_total_tasks = SIZE_MAX;  // the batch's bound after adding
  };
  void AddTasks(AddTasksCall call, Callback<AddTasksResult> done);
  // Closes an open batch (it finishes once its tasks are final); answers once durable.
  // FAILED_PRECONDITION when it already finished.
  void CloseBatch(std::string batch_id, Callback<BatchProgress> done);
  // Cancels one task: a running attempt is told to stop (as for a batch cancel), a pending or
  // waiting one never starts; its dependents follow the batch's dependency policy. Answers once
  // its CANCELLED result is durable. NOT_FOUND for a task the batch does not have;
  // FAILED_PRECONDITION when the task or the batch already finished.
  void CancelTask(std::string batch_id, std::string task_id, std::string reason,
                  Callback<TaskUpdate> done);
  // Completes the running attempt of a task a client completes (the external executor) with
  // `outcome` (success or failure; a failure retries as the task's policy says), when `token` is
  // the one its attempt was given (BatchProgress::awaiting_client). Answers once the outcome is
  // durable, with the task's new state. FAILED_PRECONDITION for a task another executor runs,
  // one that is not running, or a token of an earlier attempt (or of a completed one);
  // PERMISSION_DENIED for a token the task never had.
  void CompleteTask(std::string batch_id, std::string task_id, std::string token,
                    ExecutionOutcome outcome, Callback<TaskUpdate> done);

  // Partial output of task `task_id` after `after_offset` (at most kMaxOutputRead bytes), once
  // there is some; or its result once it is final and the reader has all of its output.
  static constexpr size_t kMaxOutputRead = 256 << 10;
  void ReadTaskOutput(std::string batch_id, std::string task_id, uint64_t after_offset,
                      Callback<TaskOutputRead> done);

  // Shared limits, at run time: Set configures or reconfigures a key (INVALID_ARGUMENT naming
  // the field, RESOURCE_EXHAUSTED past the key bound) and answers its state; Delete (NOT_FOUND);
  // List: every configured key by key. With a journal a change takes effect (and is answered)
  // once it is durable, UNAVAILABLE when it cannot be stored. Tasks waiting on a changed key
  // are reconsidered at once.
  void SetLimit(LimitSpec spec, Callback<LimitState> done);
  void DeleteLimit(std::string key, absl::AnyInvocable<void(absl::Status)> done);
  void ListLimits(absl::AnyInvocable<void(std::vector<LimitState>)> done);

  // Result cache. Drops the entry of a client key in `name_space` (kKey), every entry of
  // `name_space`, or all; answers how many went.
  enum class CacheScope { kKey, kNamespace, kAll };
  void InvalidateCache(CacheScope scope, std::string name_space, std::string key,
                       absl::AnyInvocable<void(size_t)> done);
  void GetCacheStats(absl::AnyInvocable<void(CacheGateStats, ResultCacheOptions)> done);
  // Start-up only, before serving: the cache's entries from the journal (JournalContents::cache
  // and damaged_cache_keys); expired and damaged ones are deleted from it.
  void RestoreCache(std::vector<CacheRecord> entries, std::vector<std::string> damaged_keys);
  // Start-up only, before serving: the limits from the limits file and the journal.
  absl::Status RestoreLimit(LimitSpec spec);
  // What submit checks batches' limits against (thread-safe).
  const LimitCatalog& limit_catalog() const { return limits_.catalog(); }

  // Calls back with the scheduler's gauges (for metrics).
  void Snapshot(absl::AnyInvocable<void(SchedulerGauges)> done);
  // Calls back with the number of batches not finished yet (shutdown drains until 0).
  void CountUnfinished(absl::AnyInvocable<void(size_t)> done);
  // Cancels every unfinished batch (daemon shutdown), so every waiting reader completes.
  void CancelAll(std::string reason);
  // Daemon shutdown with a journal: stops starting and finishing tasks without recording
  // anything (running attempts are cancelled and run again after the restart); readers waiting
  // for more get UNAVAILABLE.
  void Suspend(std::string reason);

  // Strand only: `executor` gained capacity (or lost its last worker); starts tasks kept
  // PENDING for it, or arms their no-worker timeouts.
  void OnCapacityChanged(Executor& executor) override;

  // For tests and benchmarks; call on the strand.
  uint32_t running_total() const { return running_total_; }
  size_t batch_count() const { return batches_.size(); }

 private:
  using BatchPtr = std::shared_ptr<Batch>;

  void Complete(const AttemptToken& token, ExecutionOutcome outcome) override;
  void Output(const AttemptToken& token, std::string chunk) override;
  void AppendOutput(const AttemptToken& token, std::string chunk);
  // ReadTaskOutput on the strand: answers now, or once the batch changes.
  void ReadOutputOnStrand(BatchPtr batch, uint32_t task, uint64_t after_offset,
                          Callback<TaskOutputRead> done);

  // Admission: `batch` was admitted (from any thread).
  void OnAdmitted(BatchPtr batch);
  void AddBatch(BatchPtr batch);
  // On the strand: `read(batch, done)` with the batch named `batch_id`, or NOT_FOUND to `done`.
  template <typename T, typename Read>
  void OnBatch(std::string batch_id, Callback<T> done, Read read);

  // The strand loop.
  void Pump();
  void PostPump();
  bool PrepareNext();
  bool StartNext();
  void StartAttempt(const BatchPtr& batch, uint32_t task, SteadyTime now);
  void HandleOutcome(const AttemptToken& token, ExecutionOutcome outcome);
  // Starts the attempt on its executor; a task referring to secrets is given a copy of its input
  // with their values in (never kept).
  void StartOnExecutor(const Batch& batch, uint32_t task, const ExecutionRequest& request);
  void HandleLostWorker(const BatchPtr& batch, uint32_t task, ExecutionOutcome outcome);
  // The running attempt of `task` ended: its slot (if it held one) is free.
  void EndAttempt(Batch& batch, uint32_t task);
  // Why `client_token` cannot complete `task` now; OK when it can.
  static absl::Status CheckCompletion(const Batch& batch, uint32_t task,
                                      const std::string& client_token);
  // Stops whatever `task` (not final) is doing: its timer, parking, limits, cache wait, and a
  // running attempt (told `error`).
  void StopTask(Batch& batch, uint32_t task, const std::string& error);
  // Stops `task` (not final) and records it CANCELLED with `error`.
  void CancelOne(const BatchPtr& batch, uint32_t task, const std::string& error);
  // Calls `done` once everything recorded of `batch` so far is durable (at once without a
  // journal); UNAVAILABLE when the daemon suspends first.
  void WhenRecorded(const BatchPtr& batch, absl::AnyInvocable<void(absl::Status)> done);
  // Open batches.
  static absl::Status CheckAcceptsTasks(const Batch& batch);
  void StartAdded(const BatchPtr& batch, uint32_t first);
  void CloseOpenBatch(const BatchPtr& batch);
  void ArmIdleClose(const BatchPtr& batch);
  // Answers `done` with `task`'s state once everything recorded of `batch` so far is durable.
  void AnswerWhenDurable(const BatchPtr& batch, uint32_t task, Callback<TaskUpdate> done);
  void OnTimeout(const AttemptToken& token);
  // `error`: the failed attempt's, shown by ListTasks while the task waits.
  void ScheduleRetry(const BatchPtr& batch, uint32_t task, std::optional<uint32_t> retry_after_ms,
                     std::string error);
  void ArmRetryTimer(const BatchPtr& batch, uint32_t task, SteadyTime at);
  void CancelTimer(Batch& batch, uint32_t task);
  void ScheduleThrottledRetry(const BatchPtr& batch, uint32_t task,
                              std::optional<uint32_t> retry_after_ms, std::string error);

  // Shared limits.
  // The task's limits: true when it holds them (start it); false when it waits for them or
  // failed because it never can.
  bool AcquireLimits(const BatchPtr& batch, uint32_t task, SteadyTime now);
  // The task lets go of limits it holds, the verdict of its attempt told when it ran one.
  void ReleaseLimits(Batch& batch, uint32_t task, const ExecutionOutcome* outcome = nullptr);
  // The task stops waiting for its limits (cancelled); no effect when it does not wait.
  void LeaveLimits(Batch& batch, uint32_t task);
  // Starts (makes ready) the waiters whose limits returned; fails those that never can.
  void DrainLimits();
  void OnQueueTimeout(const AttemptToken& token);

  // Result cache (core/cache, cache_gate.h).
  // Looks the ready task up: true when it runs; false when it finished (a hit) or waits.
  bool LookUpCache(const BatchPtr& batch, uint32_t task);
  void FinishCached(const BatchPtr& batch, uint32_t task, boost::json::value output,
                    std::shared_ptr<const CachedFrom> origin, SteadyTime now);
  // A runner's end told its waiters: they finish with its output, or one runs instead.
  void ApplyCacheHandoffs();
  bool WaitsForCache(FlightTask task) const;

  // Capacity parking.
  void Park(const BatchPtr& batch, uint32_t task, const Executor& executor);
  // The parked task stops waiting (it timed out or was cancelled); its entry goes stale.
  void Unpark(Batch& batch, uint32_t task);
  bool StillParked(const ParkedTask& p) const;
  uint32_t WakeParked(Executor& executor);
  void ArmUnservedTimeout(const BatchPtr& batch, uint32_t task);
  void OnUnservedTimeout(const AttemptToken& token);

  // Finishing tasks and batches.
  void FinishTask(const BatchPtr& batch, uint32_t task, TaskState state, boost::json::value output,
                  std::string error, std::string worker_id = {});
  void ApplyDependencyPolicy(const BatchPtr& batch, uint32_t task, SteadyTime now);
  void ReportFinished(const BatchPtr& batch, uint32_t task);
  void CancelBatch(const BatchPtr& batch, std::string reason);
  void CancelRemaining(const BatchPtr& batch, const std::string& error);
  void MaybeFinishBatch(const BatchPtr& batch);
  // Retention ended: the batch is gone for readers, its request_id free, its journal dropped.
  void Evict(const BatchPtr& batch);

  // Journal: this turn's events are flushed at the end of Pump; durable ones become readable.
  void OnDurable(std::vector<DurableMark> marks);

  // Recovery.
  void Replay(const BatchPtr& batch, std::vector<JournalEvent> events);
  void ResumeRecovered(const BatchPtr& batch, const std::vector<WallTime>& retry_due);

  Strand strand_;
  const Clock& clock_;
  TimerService& timers_;
  ExecutorRegistry& registry_;
  const SchedulerOptions options_;
  const std::shared_ptr<const SecretStore> secrets_;  // never null (empty: none is defined)

  SchedulerObserver no_observer_;
  SchedulerObserver& observer_;

  LimitGate limits_;  // strand-owned; its catalog is thread-safe (admitter_ reads it)
  CacheGate cache_;   // strand-owned
  std::vector<CacheHandoff> cache_handoffs_;  // applied by Pump
  std::vector<CacheHandoff> applying_;        // Pump's spare buffer for cache_handoffs_
  LimitChanges limit_changes_;  // strand-owned: SetLimit / DeleteLimit through the journal
  BatchAdmitter admitter_;      // thread-safe: Submit runs on the caller's thread

  // Strand-owned state.
  BatchTable batches_;
  RunnableRing runnable_;
  BatchRetention retention_;
  BatchReaders readers_;
  ParkingLot parking_;
  TurnJournal journal_;
  bool suspended_ = false;
  struct PendingCompletion {
    AttemptToken token;
    ExecutionOutcome outcome;
  };
  std::vector<PendingCompletion> completions_;
  std::vector<PendingCompletion> processing_;  // Pump's spare buffer for completions_
  // Answers waiting for their batch's events to be durable (AnswerWhenDurable).
  struct DurableWaiter {
    uint64_t batch_seq = 0;
    uint64_t chunk = 0;
    absl::AnyInvocable<void(absl::Status)> done;
  };
  std::vector<DurableWaiter> durable_waiters_;
  uint32_t running_total_ = 0;
  bool pumping_ = false;
  bool pump_posted_ = false;
  std::mt19937_64 jitter_rng_;
};

}  // namespace batchd::core
