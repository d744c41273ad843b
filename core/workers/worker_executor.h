// An executor served by callback workers: Start picks one of the live workers serving it (by the
// batch's load balancer, among those with a free slot) and dispatches through the hub. Its
// capacity is the free slots of its workers; with none connected it is unserved and the
// scheduler keeps its tasks PENDING. Shared by the workers serving it and the unfinished batches
// naming it (the registry only looks it up): once none holds it, it is gone and its name is
// unknown again. Strand only, except Describe and the destructor (any thread).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/workers/connected_worker.h"
#include "core/workers/load_balancer.h"

namespace batchd::core {

class WorkerExecutor final : public Executor {
 public:
  // `dispatcher` must outlive every attempt started here (the hub outlives its workers).
  WorkerExecutor(std::string name, WorkerDispatcher& dispatcher)
      : name_(std::move(name)), dispatcher_(dispatcher) {}
  ~WorkerExecutor() override;

  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken& token) override;
  void CancelBecause(const AttemptToken& token, std::string_view reason) override;
  uint32_t FreeCapacity() const override;
  std::string Unserved() const override;
  void Describe(ExecutorDescription& description) const override;
  bool ReceivesDependencyOutputs() const override { return true; }

  // Called by the hub as workers come and go.
  void AddWorker(ConnectedWorker* worker);
  void RemoveWorker(ConnectedWorker* worker);
  const std::string& name() const { return name_; }

 private:
  void PublishCounts();

  const std::string name_;
  WorkerDispatcher& dispatcher_;
  std::vector<ConnectedWorker*> workers_;
  std::vector<BalancerCandidate> candidates_;  // parallel to workers_; keeps WEIGHTED state
  LoadBalancer balancer_;
  std::atomic<uint32_t> worker_count_{0};
  std::atomic<uint32_t> total_slots_{0};
};

}  // namespace batchd::core
