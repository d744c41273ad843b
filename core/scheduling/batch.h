// One submitted batch: its compiled tasks (ids, inputs, executors, policies), per-task run
// state, the ready queue, and the result log with its aggregation order. Built and validated
// off the strand by Create; afterwards owned and mutated only on the scheduler's strand.
// Recorded results are immutable and may be read from any thread while the batch is alive.
#pragma once

#include <cassert>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/cache/cache_key.h"
#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/graph/task_graph.h"
#include "core/journal/journal_events.h"
#include "core/limits/limit_catalog.h"
#include "core/model/batch_spec.h"
#include "core/model/task_result.h"
#include "core/scheduling/retry_backoff.h"
#include "core/scheduling/task_output_log.h"
#include "core/secrets/secret_refs.h"
#include "core/secrets/secret_store.h"
#include "core/time/timer_service.h"

namespace batchd::core {

// Where a cached task is in its cache lookup (core/cache): not looked up yet; it runs (it owns
// its key's flight, or refreshes the entry with skip_lookup); it waits for another task's
// attempt with the same key; it is done with the cache (a hit, or it stopped waiting).
enum class CacheStage : uint8_t { kUnchecked, kRuns, kWaiting, kDone };

// Mutable run state of one task (kept small: one per task).
struct TaskSlot {
  uint32_t remaining_deps = 0;
  uint32_t retries = 0;     // retries made so far
  uint32_t generation = 0;  // attempt counter, for fencing stale completions
  TaskState state = TaskState::kPending;
  // PENDING but held back because its executor had no free capacity (no worker slot).
  bool parked = false;
  uint8_t workers_lost = 0;  // attempts lost with their worker (not counted as retries)
  // PENDING and ready, but its shared limits have no room: it waits in the limit table's queue.
  bool limit_wait = false;
  // It holds its shared limits (from their grant until its attempt ends or it stops).
  bool limits_held = false;
  uint8_t throttles = 0;  // throttled attempts retried outside the retry budget
  CacheStage cache = CacheStage::kUnchecked;
  // RUNNING an attempt a client completes (the external executor): it holds no slot.
  bool awaits_client = false;
  // Timeout while running, retry delay while waiting, no-worker deadline while parked.
  TimerId timer = kNoTimer;
  SteadyTime attempt_started{};
  SteadyTime ready_at{};  // when its dependencies were done (zero: at the batch's creation)
};

// What tells two AddTasks with one request_id apart: a digest of the request's durable form
// (stable across restarts).
uint64_t AddTasksDigest(std::string_view content);

class Batch : public std::enable_shared_from_this<Batch> {
 public:
  struct Identity {
    std::string id;
    uint64_t seq = 0;
    SteadyTime created_steady{};
    WallTime created_wall{};
  };

  // Whether a task may name the executor `name`.
  using ExecutorCheck = absl::FunctionRef<bool(const std::string& name)>;
  // The names the unknown-executor message lists as known.
  using ExecutorNames = absl::FunctionRef<std::vector<std::string>()>;

  // Every violation of `spec` in one pass, in input order (FieldPathBefore: tasks in task
  // order, each task's fields in field order, then the options), the first
  // kMaxFieldViolations listed and all of them counted: empty and duplicate ids, unknown
  // executors, non-finite priorities, unknown and self dependencies, bad retry policies,
  // max_concurrent or timeout_ms of 0. A cycle is looked for only once every id is unique and
  // every dependency names another task (before, the graph has no edges to follow); it is
  // then reported beside the other violations. The task graph when there are none.
  // Limits: every task's and the default_limits' shape always; with `limits`, also that each
  // key is configured (unless options.allow_unknown_limits) and its units fit its bursts.
  // Inputs: every reference to a dependency output (core/inputs) names a dependency and is
  // well formed; `tasks_with_refs` (when given) gets the tasks whose input has any.
  // Secrets: with `secrets`, every secret reference (core/secrets) names one of them that the
  // task's executor may read; `tasks_with_secrets` (when given) gets the tasks whose input has
  // any, with where they are. Without `secrets` (the server's listing of an already refused
  // request) secret references are not checked.
  static absl::StatusOr<TaskGraph> Validate(
      const BatchSpec& spec, ExecutorCheck executor_exists, ExecutorNames executor_names,
      const LimitCatalog* limits = nullptr, std::vector<uint32_t>* tasks_with_refs = nullptr,
      const SecretStore* secrets = nullptr,
      std::vector<std::pair<uint32_t, SecretRefs>>* tasks_with_secrets = nullptr);

  // Validates the spec as Validate (an executor exists when `registry` has it or, with
  // wait_for_workers, makes it on demand) and compiles it. `secrets` are the daemon's (nullptr:
  // none is defined, and any secret reference is refused).
  static absl::StatusOr<std::shared_ptr<Batch>> Create(BatchSpec spec, ExecutorRegistry& registry,
                                                       Identity identity,
                                                       const LimitCatalog* limits = nullptr,
                                                       const SecretStore* secrets = nullptr);

  const std::string& id() const { return identity_.id; }
  const std::string& request_id() const { return request_id_; }
  const std::map<std::string, std::string>& labels() const { return labels_; }
  WallTime created_wall() const { return identity_.created_wall; }
  uint64_t seq() const { return identity_.seq; }
  SteadyTime created_steady() const { return identity_.created_steady; }
  size_t ready_count() const { return ready_.size(); }
  uint32_t size() const { return static_cast<uint32_t>(ids_.size()); }
  const TaskGraph& graph() const { return *graph_; }
  const std::string& task_id(uint32_t t) const { return ids_[t]; }
  // The index of the task named `id` (a scan: for client calls naming one task, not hot paths).
  std::optional<uint32_t> FindTask(std::string_view id) const;
  // The input as submitted, or once ResolveInput ran, as the task runs it.
  const boost::json::value& input(uint32_t t) const { return inputs_[t]; }
  // Whether the input still refers to dependency outputs (core/inputs) not yet resolved.
  bool has_input_refs(uint32_t t) const { return !input_refs_.empty() && input_refs_[t]; }
  // Where its input refers to secrets (core/secrets: substituted into each attempt's copy of the
  // input, redacted from its outcome); nullptr when it refers to none.
  const SecretRefs* secret_refs(uint32_t t) const {
    if (secret_refs_.empty()) return nullptr;
    const auto it = secret_refs_.find(t);
    return it == secret_refs_.end() ? nullptr : &it->second;
  }
  // Its cache policy (its own or the batch's default_cache); nullptr when it is not cached.
  const CacheSpec* cache_spec(uint32_t t) const {
    return cache_index_.empty() || cache_index_[t] == 0 ? nullptr
                                                        : &cache_specs_[cache_index_[t] - 1];
  }
  // The key it was looked up under (set by SetCacheKey; kRuns and kWaiting tasks have one).
  const CacheKey& cache_key(uint32_t t) const { return cache_keys_[t]; }
  void SetCacheKey(uint32_t t, const CacheKey& key) { cache_keys_[t] = key; }
  // kUnchecked -> kRuns: it runs its attempt (and stores a success).
  void RunForCache(uint32_t t) { slots_[t].cache = CacheStage::kRuns; }
  // kUnchecked -> kWaiting: PENDING, waiting for a running attempt with its key.
  void WaitForCache(uint32_t t);
  // kWaiting -> kRuns: the attempt it waited for failed and it runs instead; ready again.
  void TakeOverCacheFlight(uint32_t t, SteadyTime now);
  // kWaiting -> kDone (cancelled, or finished from the cache); returns whether it waited.
  bool StopWaitingForCache(uint32_t t);
  uint32_t cache_waiting() const { return cache_waiting_; }
  // PENDING -> SUCCEEDED with a cached output: retry_count 0, started = finished = now.
  bool RecordCached(uint32_t t, boost::json::value output, std::shared_ptr<const CachedFrom> origin,
                    SteadyTime now);

  // AddTasks (strand): validates `added` with this batch's tasks (Validate's messages, field paths
  // into `added`) and appends them, or changes nothing. Returns the index of the first added
  // task. A dependency already final counts as its end: done when it succeeded (or under
  // RUN_DEPENDENTS), else the task waits until the scheduler applies the policy to it. The
  // added tasks become ready only with ReadyAdded (not when replayed from the journal).
  absl::StatusOr<uint32_t> Extend(std::vector<TaskSpec> added, ExecutorRegistry& registry,
                                  const LimitCatalog* limits, const SecretStore* secrets);
  void ReadyAdded(uint32_t first, SteadyTime now);
  // Partial output of task `t` (StreamTaskOutput); the log keeps its last `max_bytes`.
  void AppendOutput(uint32_t t, std::string chunk, size_t max_bytes) {
    outputs_.try_emplace(t, max_bytes).first->second.Append(std::move(chunk));
  }
  // nullptr while it sent none.
  const TaskOutputLog* output(uint32_t t) const {
    const auto it = outputs_.find(t);
    return it == outputs_.end() ? nullptr : &it->second;
  }
  // Open batches: they stay unfinished once every task is final until closed.
  bool open() const { return open_; }
  bool closed() const { return closed_; }
  // Whether it may finish once its tasks are final (not open, or closed).
  bool may_finish() const { return !open_ || closed_; }
  void Close() {
    closed_ = true;
    ++version_;
  }
  std::optional<uint32_t> close_after_idle_ms() const { return close_after_idle_ms_; }
  // When every task of an open batch became final (for close_after_idle_ms); zero: not idle.
  SteadyTime idle_since{};
  TimerId idle_timer = kNoTimer;
  // AddTasks' request ids, with a digest of what each added (idempotent retries).
  absl::flat_hash_map<std::string, uint64_t>& add_requests() { return add_requests_; }

  // Replaces the references in the input by the dependencies' outputs (all of them are done):
  // on failure (a pointer names nothing) the input stays as it is and the error says which.
  absl::Status ResolveInput(uint32_t t);
  double priority(uint32_t t) const { return priorities_[t]; }
  // Until the batch finishes: Finish lets go of its executors, so a worker executor that no
  // worker serves and no unfinished batch names is forgotten.
  Executor* executor(uint32_t t) const {
    assert(!finished());
    return executors_[executor_index_[t]].get();
  }
  const std::string& executor_name(uint32_t t) const { return executor_names_[executor_index_[t]]; }
  // Whether a client completes its attempts (Executor::CompletedByClient; known after Finish).
  bool completed_by_client(uint32_t t) const { return by_client_[executor_index_[t]]; }
  // kNoTimeout: none (a task a client completes, unless it sets one).
  uint32_t timeout_ms(uint32_t t) const { return timeouts_ms_[t]; }
  static constexpr uint32_t kNoTimeout = 0;
  const RetryPolicy& retry_policy(uint32_t t) const { return policies_[policy_index_[t]]; }
  uint32_t max_concurrent() const { return max_concurrent_; }
  DependencyFailure on_dependency_failure() const { return on_dependency_failure_; }
  Aggregation aggregation() const { return aggregation_; }
  LoadBalancerKind load_balancer() const { return load_balancer_; }
  // The shared limits task `t` uses: the batch's default_limits merged with its own.
  absl::Span<const LimitUse> limits(uint32_t t) const {
    if (limit_index_.empty()) return {};
    return limit_sets_[limit_index_[t]];
  }
  std::optional<uint32_t> queue_timeout_ms() const { return queue_timeout_ms_; }
  // The final result of task `t`, or nullptr while it has none.
  const TaskResult* result(uint32_t t) const { return result_of_[t]; }

  // A task's run state is read-only outside Batch: every change is one of the transitions below.
  const TaskSlot& slot(uint32_t t) const { return slots_[t]; }
  // The token of task `t`'s current attempt (what its timers and outcomes are fenced by).
  AttemptToken attempt(uint32_t t) const { return {identity_.seq, t, slots_[t].generation}; }

  BatchState state() const { return state_; }
  bool finished() const { return IsFinal(state_); }
  SteadyTime finished_steady() const { return finished_steady_; }
  uint32_t running() const { return running_; }
  uint32_t completed() const { return static_cast<uint32_t>(results_.size()); }
  uint64_t version() const { return version_; }

  // Ready queue: highest priority first, ties in input order.
  bool CanStart() const { return !ready_.empty() && running_ < max_concurrent_ && !finished(); }
  uint32_t PopReady();
  // Ready tasks still to prepare before they queue (their input refers to dependency outputs,
  // or they are looked up in the cache first), in the order they became ready. Preparing takes
  // no slot: PushPrepared then queues the task by priority.
  bool CanPrepare() const { return unprepared_next_ < unprepared_.size() && !finished(); }
  uint32_t PopUnprepared();
  void PushPrepared(uint32_t t) { QueueReady(t); }

  // The stale-attempt check: true while task `t` is still in `state` in attempt `generation`
  // (a timer or an outcome of any earlier attempt, or of a task that moved on, is stale).
  bool IsCurrent(uint32_t t, TaskState state, uint32_t generation) const {
    const TaskSlot& s = slots_[t];
    return s.state == state && s.generation == generation;
  }

  // Task transitions (the one task state machine), called by the scheduler on the strand.
  // PENDING -> RUNNING: a new attempt (generation) starts, taking one of max_concurrent's slots
  // unless a client completes it (`takes_slot` false: see AwaitClient).
  void OnAttemptStarted(uint32_t t, SteadyTime now, bool takes_slot = true);
  // The running attempt ended (an outcome, a timeout or a cancellation); its task moves on.
  // Returns whether it held a slot (the daemon's running count goes down with it).
  bool OnAttemptEnded(uint32_t t);
  // The attempt just started (without a slot) waits for CompleteTask with `token`, since `since`.
  // The token stays known after the attempt ended, so a late call with it is told it is stale.
  void AwaitClient(uint32_t t, std::string token, WallTime since);
  struct ClientCompletion {
    std::string token;  // of the current (or last) attempt
    WallTime since{};
    std::vector<std::string> spent;  // tokens of earlier attempts
  };
  // The completion tokens of a task a client completes; nullptr when it never waited for one.
  const ClientCompletion* client_completion(uint32_t t) const {
    const auto it = client_completions_.find(t);
    return it == client_completions_.end() ? nullptr : &it->second;
  }
  uint32_t awaiting_clients() const { return awaiting_clients_; }
  // Its attempt was lost with its worker: returns the losses so far (not counted as retries).
  uint8_t CountLostWorker(uint32_t t) { return ++slots_[t].workers_lost; }
  // RUNNING -> PENDING (its attempt was lost with its worker): ready again.
  void Requeue(uint32_t t, SteadyTime now);
  // RUNNING -> RETRY_WAIT: the retry counted, it waits for its delay; `error` is the failed
  // attempt's (kept while it waits, for ListTasks).
  void WaitForRetry(uint32_t t, std::string error = {});
  // RETRY_WAIT -> PENDING: its retry timer fired; ready again.
  void OnRetryDue(uint32_t t, SteadyTime now);
  // PENDING, held back (or no longer) because its executor has no free capacity. Unpark
  // returns whether it was parked; Wake also makes it ready.
  void Park(uint32_t t) { slots_[t].parked = true; }
  bool Unpark(uint32_t t) { return std::exchange(slots_[t].parked, false); }
  void Wake(uint32_t t) {
    slots_[t].parked = false;
    PushReady(t);
  }
  // PENDING and ready, but waiting in the limit table for `key` (`why`: "rate", ...). Stop
  // returns whether it waited; GrantLimits also makes it ready, holding its limits.
  void WaitForLimits(uint32_t t, const std::string& key, absl::string_view why);
  bool StopWaitingForLimits(uint32_t t);
  void GrantLimits(uint32_t t);
  void HoldLimits(uint32_t t) { slots_[t].limits_held = true; }
  // Returns whether it held them.
  bool DropLimits(uint32_t t) { return std::exchange(slots_[t].limits_held, false); }
  // RUNNING -> RETRY_WAIT after a throttled attempt: not counted as a retry.
  void WaitThrottled(uint32_t t, std::string error = {});
  // RETRY_WAIT: its retry timer is due at `due` (live or resumed after a restart).
  void SetRetryDue(uint32_t t, SteadyTime due) { retry_waits_[t].due = due; }
  // What a task in RETRY_WAIT waits for: when its retry is due (zero: not known) and the error
  // of the attempt that failed (empty: not known, e.g. after a restart); nullptr otherwise.
  struct RetryWait {
    SteadyTime due{};
    std::string error;
  };
  const RetryWait* retry_wait(uint32_t t) const {
    if (retry_waits_.empty()) return nullptr;
    const auto it = retry_waits_.find(t);
    return it == retry_waits_.end() ? nullptr : &it->second;
  }
  // A task waiting for its limits (limit_wait): the limit table's reason for its key (e.g.
  // "waiting for limit 'openai' (rate)"), nullptr when it does not wait.
  const std::string* limit_wait_reason(uint32_t t) const;
  uint32_t throttled_waiting() const { return limit_waiting_; }
  // The task's one timer (timeout, retry delay, no-worker or limit-queue deadline): TakeTimer
  // disarms the slot and returns what was armed (for the caller to cancel), kNoTimer when nothing.
  void SetTimer(uint32_t t, TimerId timer) { slots_[t].timer = timer; }
  TimerId TakeTimer(uint32_t t) { return std::exchange(slots_[t].timer, kNoTimer); }

  // Records the final result of task `t` (`state` must be final). Returns true when new
  // results became visible to readers (hold-back orders may delay them).
  bool Record(uint32_t t, TaskState state, boost::json::value output, std::string error,
              SteadyTime now, std::string worker_id = {});

  // The dependency-failure policy, in one place: what a task ending in the final `state` means
  // for its dependents. Success (and any end under RUN_DEPENDENTS) releases them.
  enum class DependentsFate { kRelease, kSkip, kCancelBatch };
  DependentsFate FateOfDependents(TaskState state) const;
  // kRelease: each dependent has one dependency fewer; those with none left become ready
  // (`ready_at` = now) unless the batch is cancelled.
  void ReleaseDependents(uint32_t t, SteadyTime now);
  // kSkip: records every pending task downstream of `failed` as SKIPPED, calling `recorded`
  // for each.
  void SkipDependents(uint32_t failed, SteadyTime now, absl::FunctionRef<void(uint32_t)> recorded);

  // Marks the batch finished once every task is final (or it was cancelled and nothing runs),
  // and releases its executors.
  void Finish(SteadyTime now);
  void MarkCancelled(std::string reason);
  bool cancel_requested() const { return cancel_requested_; }
  const std::string& cancel_reason() const { return cancel_reason_; }
  bool AllFinal() const { return results_.size() == ids_.size(); }
  void Touch() { ++version_; }
  // The scheduler let go of the batch (retention ended): whoever still holds it only reads it.
  void Retire() { retired_ = true; }
  bool retired() const { return retired_; }

  // Durability: a journaled batch shows readers only results (and its end) the journal has
  // made durable; without a journal everything recorded is readable at once.
  void SetJournaled() { journaled_ = true; }
  bool journaled() const { return journaled_; }
  uint64_t visible_count() const { return visible_.size(); }
  void MarkDurable(uint64_t visible_results, bool finished, uint64_t chunk = 0);
  // The number of its newest durable event chunk (TurnJournal numbers them in chunks_appended).
  uint64_t durable_chunks() const { return durable_chunks_; }
  uint64_t chunks_appended = 0;
  bool finished_durably() const { return finished() && (!journaled_ || durable_finished_); }
  // Events recorded since the last flush to the journal.
  std::string& journal_events() { return journal_events_; }
  // This turn's final results, encoded into journal_events() later by the journal's thread.
  std::vector<DeferredResult>& journal_results() { return journal_results_; }
  // Membership of the scheduler's list of batches with events to flush.
  bool in_journal_list = false;

  // Recovery from the journal (see ReplayJournal in batch_replay.h): replays an attempt that
  // had started, its requeueing or retry delay, a stored final result (with what it means for
  // its dependents' counts) and the end of the batch. RerunInterrupted then makes an attempt
  // that was running when the daemon stopped pending again (counted as a retry) and
  // RebuildReady queues every pending task whose dependencies are done.
  void RestoreStarted(uint32_t t, uint32_t retries);
  void RestoreRequeued(uint32_t t) { slots_[t].state = TaskState::kPending; }
  // The started attempt waits for a client (kAwaiting); ResumeAwaiting then keeps it RUNNING.
  void RestoreAwaiting(uint32_t t, std::string token, WallTime since);
  void ResumeAwaiting(uint32_t t, SteadyTime now);
  void RestoreRetryWait(uint32_t t, uint32_t retries);
  void RestoreResult(JournalEvent& e);
  void RestoreFinished(SteadyTime finished) { Finish(finished); }
  void RerunInterrupted(uint32_t t);
  void RebuildReady();
  WallTime WallAt(SteadyTime t) const { return ToWall(t); }

  // Snapshots.
  BatchSummary Summary() const;
  BatchProgress Progress() const;
  // Results with sequence > after_sequence (sequences start at 1), at most `max` (1 for
  // STREAMING); with none left and the batch finished, the summary instead.
  ResultChunk ReadResults(uint64_t after_sequence, size_t max) const;

  // One-shot callbacks run (on the strand) after the batch next changes; each re-checks
  // what it waits for and parks again if needed.
  std::vector<absl::AnyInvocable<void()>>& change_waiters() { return change_waiters_; }
  // True when the batch was not already marked as changed since the last notification.
  bool MarkChanged() { return !std::exchange(changed_, true); }
  void ClearChanged() { changed_ = false; }
  // Membership of the scheduler's round-robin ring of batches with ready tasks, and of its
  // ring of batches with tasks to prepare.
  bool in_runnable_ring = false;
  bool in_prepare_ring = false;

 private:
  Batch() = default;
  bool ReadyBefore(uint32_t a, uint32_t b) const;
  // A task that became ready: queued, or kept to be prepared first.
  void PushReady(uint32_t t);
  void QueueReady(uint32_t t);
  // Prepared tasks include those a client completes: they start from there, taking no slot.
  bool NeedsPreparation(uint32_t t) const {
    return has_input_refs(t) ||
           (!cache_index_.empty() && cache_index_[t] != 0 &&
            slots_[t].cache == CacheStage::kUnchecked) ||
           completed_by_client(t);
  }
  // The one way a result enters the log (live or replayed): sets the task's state, builds its
  // result in place (`fill` sets what the caller knows: retries, output, error, times), counts
  // it and makes it visible in aggregation order. `ran`: the task ran at least once.
  bool AppendResult(uint32_t t, TaskState state, bool ran,
                    absl::FunctionRef<void(TaskResult&)> fill);
  bool EmitVisible();
  // Compiles tasks[first..] (validated) onto the per-task vectors.
  absl::Status CompileTasks(std::vector<TaskSpec>& tasks, size_t first, ExecutorRegistry& registry);
  // ORDERED / PRIORITY: tasks first.. join the aggregation order after every earlier task (an
  // added set is ordered among itself: results already visible never move).
  void AppendOrder(uint32_t first);
  // Progress: the tasks waiting for CompleteTask, by task order (the first
  // kMaxListedAwaitingTasks).
  void ListAwaitingClients(BatchProgress& p) const;
  WallTime ToWall(SteadyTime t) const {
    return identity_.created_wall +
           std::chrono::duration_cast<WallTime::duration>(t - identity_.created_steady);
  }

  Identity identity_;
  std::string request_id_;
  std::map<std::string, std::string> labels_;
  std::optional<TaskGraph> graph_;

  // Compiled tasks, indexed by dense task index.
  // Deques: results point at ids and executor names, and AddTasks appends to them.
  std::deque<std::string> ids_;
  std::vector<boost::json::value> inputs_;
  std::vector<bool> input_refs_;  // by task; empty when no task refers to an output
  absl::flat_hash_map<uint32_t, SecretRefs> secret_refs_;  // the tasks that refer to secrets
  // Tasks a client completes (external): their tokens, from their first attempt on.
  absl::flat_hash_map<uint32_t, ClientCompletion> client_completions_;
  uint32_t awaiting_clients_ = 0;  // RUNNING attempts waiting for CompleteTask (no slot)
  std::vector<double> priorities_;
  std::vector<uint32_t> timeouts_ms_;
  std::vector<uint16_t> executor_index_;
  std::vector<uint16_t> policy_index_;
  std::vector<std::shared_ptr<Executor>> executors_;  // held while unfinished
  std::deque<std::string> executor_names_;
  std::vector<bool> by_client_;        // by executor index: Executor::CompletedByClient
  std::vector<RetryPolicy> policies_;  // [0] is the batch's

  // Shared limits: [0] is the batch's default_limits; limit_index_ is empty when no task uses
  // any (most batches), else one entry per task.
  std::vector<std::vector<LimitUse>> limit_sets_;
  std::vector<uint32_t> limit_index_;
  std::optional<uint32_t> queue_timeout_ms_;
  // Cache policies; cache_index_ (policy + 1, 0 = none) is empty when no task is cached.
  std::vector<CacheSpec> cache_specs_;
  std::vector<uint16_t> cache_index_;
  std::vector<CacheKey> cache_keys_;  // by task, when any is cached
  uint32_t cache_waiting_ = 0;
  uint32_t limit_waiting_ = 0;
  // Tasks waiting for limits by key, with why the last one waits: for progress.
  std::map<std::string, std::pair<uint32_t, std::string>, std::less<>> limit_waits_;
  std::vector<const std::string*> waiting_key_;  // by task, into limit_waits_ (sized on demand)
  // Tasks in RETRY_WAIT (few at a time): kept beside the slots, not in them (TaskSlot stays small).
  absl::flat_hash_map<uint32_t, RetryWait> retry_waits_;

  // What compiling added tasks needs of the batch's options.
  uint16_t default_cache_ = 0;  // 1 when cache_specs_[0] is the options' default_cache
  bool any_limits_ = false;     // limit_index_ has an entry per task
  bool any_cache_ = false;      // cache_index_ and cache_keys_ have one per task
  uint32_t batch_timeout_ms_ = kDefaultTimeoutMs;
  bool wait_for_workers_ = false;
  bool allow_unknown_limits_ = false;
  bool open_ = false;
  bool closed_ = false;
  std::optional<uint32_t> close_after_idle_ms_;
  absl::flat_hash_map<std::string, uint64_t> add_requests_;
  absl::flat_hash_map<uint32_t, TaskOutputLog> outputs_;  // tasks that sent partial output

  uint32_t max_concurrent_ = kDefaultMaxConcurrent;
  DependencyFailure on_dependency_failure_ = kDefaultDependencyFailure;
  Aggregation aggregation_ = kDefaultAggregation;
  LoadBalancerKind load_balancer_ = kDefaultLoadBalancer;

  // Run state.
  std::vector<TaskSlot> slots_;
  std::vector<uint32_t> ready_;       // binary heap ordered by ReadyBefore
  std::vector<uint32_t> unprepared_;  // FIFO from unprepared_next_
  size_t unprepared_next_ = 0;
  uint32_t running_ = 0;
  BatchState state_ = BatchState::kPending;
  SteadyTime first_start_{};
  SteadyTime finished_steady_{};
  bool cancel_requested_ = false;
  std::string cancel_reason_;
  uint64_t version_ = 0;

  // Results: recorded in completion order (stable addresses), made visible in aggregation
  // order. For ORDERED/PRIORITY, `order_` is the target order and `order_cursor_` the first
  // entry not yet visible. `result_of_` maps task -> its result (dependency outputs read it).
  std::deque<TaskResult> results_;
  std::vector<const TaskResult*> visible_;
  std::vector<uint32_t> order_;
  std::vector<const TaskResult*> result_of_;
  size_t order_cursor_ = 0;
  uint32_t successful_ = 0;
  uint32_t retried_ = 0;
  double duration_sum_ms_ = 0;
  uint32_t executed_ = 0;  // results whose task ran at least once

  std::vector<absl::AnyInvocable<void()>> change_waiters_;
  bool changed_ = false;
  bool retired_ = false;

  bool journaled_ = false;
  uint64_t durable_visible_ = 0;
  bool durable_finished_ = false;
  uint64_t durable_chunks_ = 0;
  std::string journal_events_;
  std::vector<DeferredResult> journal_results_;
};

}  // namespace batchd::core
