// The asynchronous executor interface: the scheduler starts an attempt, the executor reports
// its outcome exactly once (possibly synchronously inside Start), and the scheduler may cancel
// an attempt it no longer wants. Start and Cancel run on the scheduler's strand and must never
// block; CompletionSink::Complete may be called from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/hash/hash.h"
#include "core/model/batch_spec.h"
#include "core/time/clock.h"

namespace batchd::core {

// Identifies one attempt of one task. Opaque to executors: they hand it back on completion
// and use it as a key for cancellation.
struct AttemptToken {
  uint64_t batch_seq = 0;
  uint32_t task = 0;
  uint32_t generation = 0;

  bool operator==(const AttemptToken&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const AttemptToken& t) {
    return H::combine(std::move(h), t.batch_seq, t.task, t.generation);
  }
};

// A task's dependencies and the outputs they produced, in the order first listed. An output is
// nullptr when the dependency produced none (it failed and the batch runs dependents anyway).
class TaskDependencies {
 public:
  virtual ~TaskDependencies() = default;
  virtual size_t size() const = 0;
  virtual std::string_view id(size_t i) const = 0;
  virtual const boost::json::value* output(size_t i) const = 0;
};

// Valid only for the duration of Executor::Start; copy what you need later.
struct ExecutionRequest {
  AttemptToken token;
  std::string_view batch_id;
  std::string_view task_id;
  const boost::json::value& input;
  double priority = 0;
  uint32_t attempt = 0;  // retries made so far (0 on the first try)
  uint32_t timeout_ms = 0;
  SteadyTime deadline;
  std::string_view executor = {};  // the name the task asked for
  LoadBalancerKind load_balancer = kDefaultLoadBalancer;
  const TaskDependencies* dependencies = nullptr;  // never null when set by the scheduler
  // The response header that reports the units this attempt used (a shared limit names it);
  // empty when none. Executors that can read it set ExecutionOutcome::units_used.
  std::string_view units_header = {};
};

struct ExecutionOutcome {
  bool success = false;
  boost::json::value output;
  std::string error;
  bool non_retryable = false;              // fail now whatever the retry policy says
  std::optional<uint32_t> retry_after_ms;  // overrides the policy's next delay
  std::string worker_id;
  // The worker running the attempt went away: the task runs again without spending its retry
  // budget (up to the scheduler's lost-worker limit).
  bool worker_lost = false;
  // The service refused for its rate (HTTP 429 / 503, or a worker saying so): the task's shared
  // limits slow down (and pause for retry_after_ms) and it runs again without spending its retry
  // budget, up to kMaxThrottledRetries.
  bool throttled = false;
  // Units the attempt really used (tokens, ...), when known: its limits' units rates are charged
  // the difference from what it took.
  std::optional<int64_t> units_used{};

  static ExecutionOutcome Success(boost::json::value output) {
    ExecutionOutcome o;
    o.success = true;
    o.output = std::move(output);
    return o;
  }
  static ExecutionOutcome Failure(std::string error, bool non_retryable = false) {
    ExecutionOutcome o;
    o.error = std::move(error);
    o.non_retryable = non_retryable;
    return o;
  }
};

class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  // Thread-safe. Reports for attempts that are no longer current are ignored.
  virtual void Complete(const AttemptToken& token, ExecutionOutcome outcome) = 0;
  // Thread-safe. Partial output of the running attempt (StreamTaskOutput), before its outcome;
  // dropped once the attempt is no longer current. Not journalled.
  virtual void Output(const AttemptToken& /*token*/, std::string /*chunk*/) {}
};

struct ExecutorDescription;
class Executor;

// Executors whose capacity comes and goes (callback workers) tell the scheduler when it changed,
// so tasks it kept PENDING for them can start. Called on the scheduler's strand.
class CapacityListener {
 public:
  virtual ~CapacityListener() = default;
  virtual void OnCapacityChanged(Executor& executor) = 0;
};

inline constexpr uint32_t kUnboundedCapacity = UINT32_MAX;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Start(const ExecutionRequest& request, CompletionSink& sink) = 0;
  // Stop the attempt's work; called only for attempts started and not yet reported.
  virtual void Cancel(const AttemptToken& token) = 0;
  // Cancel with the reason the client will see; executors that can pass it on override this.
  virtual void CancelBecause(const AttemptToken& token, std::string_view /*reason*/) {
    Cancel(token);
  }

  // How many attempts Start accepts right now without queueing them (strand only). The
  // scheduler keeps further tasks PENDING until the executor signals its CapacityListener.
  virtual uint32_t FreeCapacity() const { return kUnboundedCapacity; }
  // Non-empty when nothing can serve this executor now (no worker connected): the error a task
  // waiting for it fails with once its timeout passes. Strand only.
  virtual std::string Unserved() const { return {}; }
  // Live figures for ListExecutors (worker count, total slots). Thread-safe.
  virtual void Describe(ExecutorDescription& /*description*/) const {}
  // Whether attempts see ExecutionRequest::dependencies (callback workers): then those outputs
  // are part of what a result depends on, and of its cache key.
  virtual bool ReceivesDependencyOutputs() const { return false; }
  // Whether its attempts are completed by a client (CompleteTask) rather than by the executor:
  // such an attempt is RUNNING without taking a slot (neither the batch's max_concurrent nor the
  // daemon's max_running), has no timeout unless its task sets one, and carries a completion
  // token the client must present.
  virtual bool CompletedByClient() const { return false; }
};

}  // namespace batchd::core
