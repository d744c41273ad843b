// The executors every daemon has: echo (output = input), sleep (timer-based, holds no thread),
// fail (fails on purpose, for demos and tests of retry policies) and external (completed by a
// client). Start/Cancel run on the
// scheduler's strand, like every executor.
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/time/timer_service.h"

namespace batchd::core {

class EchoExecutor final : public Executor {
 public:
  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken&) override {}
};

// Input: a number of milliseconds, or {"ms": N}.
class SleepExecutor final : public Executor {
 public:
  SleepExecutor(const Clock& clock, TimerService& timers) : clock_(clock), timers_(timers) {}
  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken& token) override;

 private:
  const Clock& clock_;
  TimerService& timers_;
  absl::flat_hash_map<AttemptToken, TimerId> sleeping_;
};

// Input: {"error": "msg", "succeed_on_attempt": k}: fails with msg while the attempt number
// (0-based) is below k; without k it always fails.
class FailExecutor final : public Executor {
 public:
  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken&) override {}
};

// Tasks completed from outside (human approval, a webhook's callback): Start does nothing, the
// attempt waits RUNNING, without a slot, until a client calls CompleteTask with its token
// (Scheduler::CompleteTask). Cancel has nothing to stop.
class ExternalExecutor final : public Executor {
 public:
  void Start(const ExecutionRequest&, CompletionSink&) override {}
  void Cancel(const AttemptToken&) override {}
  bool CompletedByClient() const override { return true; }
};

// Registers echo, sleep, fail and external.
absl::Status RegisterBuiltinExecutors(ExecutorRegistry& registry, const Clock& clock,
                                      TimerService& timers);

}  // namespace batchd::core
