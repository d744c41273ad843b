// An executor served by callback workers: Start picks one of the live workers serving it (by the
// batch's load balancer, among those with a free slot) and dispatches through the WorkerHub.
// Its capacity is the free slots of its workers; with none connected it is unserved and the
// scheduler keeps its tasks PENDING. Strand only, except Describe (thread-safe).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/executor.h"
#include "core/executor_registry.h"
#include "core/load_balancer.h"

namespace batchd::core {

class WorkerHub;
struct ConnectedWorker;

class WorkerExecutor final : public Executor {
 public:
  WorkerExecutor(std::string name, WorkerHub& hub) : name_(std::move(name)), hub_(hub) {}

  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken& token) override;
  void CancelBecause(const AttemptToken& token, std::string_view reason) override;
  uint32_t FreeCapacity() const override;
  std::string Unserved() const override;
  void Describe(ExecutorDescription& description) const override;

  // Called by the hub as workers come and go.
  void AddWorker(ConnectedWorker* worker);
  void RemoveWorker(ConnectedWorker* worker);
  const std::string& name() const { return name_; }

 private:
  void PublishCounts();

  const std::string name_;
  WorkerHub& hub_;
  std::vector<ConnectedWorker*> workers_;
  std::vector<BalancerCandidate> candidates_;  // parallel to workers_; keeps WEIGHTED state
  LoadBalancer balancer_;
  std::atomic<uint32_t> worker_count_{0};
  std::atomic<uint32_t> total_slots_{0};
};

}  // namespace batchd::core
