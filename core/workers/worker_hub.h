// The callback workers connected to the daemon: registration, assignments in flight with their
// fencing, heartbeats, cancellation with a grace period, and recovery of work lost with a worker.
// The worker-served executors (WorkerExecutor) pick a worker and dispatch through it.
// Register/Receive/Disconnect are thread-safe (they post onto the scheduler's strand); every
// other method runs on that strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/time/clock.h"
#include "core/time/timer_service.h"
#include "core/workers/connected_worker.h"
#include "core/workers/worker_connection.h"
#include "core/workers/worker_executor.h"
#include "core/workers/worker_snapshot.h"

namespace batchd::core {

struct WorkerHubOptions {
  Duration heartbeat_interval = std::chrono::seconds(5);
  uint32_t missed_heartbeats = 3;                   // silent for this many intervals = gone
  Duration cancel_grace = std::chrono::seconds(5);  // slot held at most this long after a cancel
  uint32_t max_slots = 10000;                       // per worker
};

inline constexpr const char* kWorkerExecutorKind = "worker";

class WorkerHub final : private WorkerDispatcher {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // Installs the registry's on-demand factory so worker-served executors exist by name. Each
  // lives while a worker serves it or an unfinished batch names it, then is forgotten.
  WorkerHub(Strand strand, const Clock& clock, TimerService& timers, ExecutorRegistry& registry,
            WorkerHubOptions options);
  ~WorkerHub();
  WorkerHub(const WorkerHub&) = delete;
  WorkerHub& operator=(const WorkerHub&) = delete;

  // Told when a worker-served executor gains or loses capacity. Set once before serving.
  void SetCapacityListener(CapacityListener* listener) { listener_ = listener; }

  // Thread-safe. A bad registration closes the connection with INVALID_ARGUMENT naming the
  // problem; a good one answers SendRegistered with the worker's id.
  void Register(std::shared_ptr<WorkerConnection> connection, WorkerRegistrationSpec spec);
  // Thread-safe. Outcomes, heartbeats and cancel acks of a registered worker; any message
  // counts as a sign of life.
  void Receive(WorkerConnection* connection, WorkerMessage message);
  // Thread-safe. The stream ended: the worker is removed and its running tasks re-dispatched.
  // `closed_by_worker`: the worker ended its stream itself (logged at info when it had nothing
  // in flight; a broken stream or lost work is a warning).
  void Disconnect(WorkerConnection* connection, std::string reason, bool closed_by_worker = false);

  // Thread-safe. Ends every worker's stream with `status` (daemon shutdown).
  void CloseAll(absl::Status status);

  // Thread-safe. Calls `done` on the strand with the workers connected now, in the order they
  // registered.
  void ListWorkers(absl::AnyInvocable<void(std::vector<WorkerSnapshot>)> done);
  // Strand only: what ListWorkers hands over.
  std::vector<WorkerSnapshot> Snapshot() const;

  // For tests, on the strand.
  size_t worker_count() const { return workers_.size(); }
  size_t assignment_count() const { return assignments_.size(); }
  static std::string AssignmentId(const AttemptToken& token);

 private:
  // WorkerDispatcher, for the executors of its workers.
  void Dispatch(ConnectedWorker& worker, const ExecutionRequest& request,
                CompletionSink& sink) override;
  void CancelAttempt(const AttemptToken& token, std::string_view reason) override;

  struct Assignment {
    ConnectedWorker* worker = nullptr;
    CompletionSink* sink = nullptr;
    bool cancelling = false;
    TimerId grace_timer = kNoTimer;
  };
  // Work done after the hub's state is consistent: reporting to the scheduler may start new
  // attempts that dispatch through the hub again. `changed` are executors of workers the
  // caller still holds, so they outlive the delivery.
  struct Deliveries {
    std::vector<std::pair<CompletionSink*, std::pair<AttemptToken, std::string>>> outputs;
    std::vector<std::pair<CompletionSink*, std::pair<AttemptToken, ExecutionOutcome>>> outcomes;
    std::vector<WorkerExecutor*> changed;
  };

  void RegisterOnStrand(std::shared_ptr<WorkerConnection> connection, WorkerRegistrationSpec spec);
  absl::Status Validate(WorkerRegistrationSpec& spec,
                        std::vector<std::shared_ptr<WorkerExecutor>>& executors);
  void ReceiveOnStrand(WorkerConnection* connection, WorkerMessage message);
  void HandleOutcome(ConnectedWorker& worker, WorkerOutcome outcome, Deliveries& out);
  void HandleOutput(ConnectedWorker& worker, WorkerOutput output, Deliveries& out);
  void HandleCancelAck(ConnectedWorker& worker, const std::string& assignment_id, Deliveries& out);
  void Release(absl::flat_hash_map<AttemptToken, Assignment>::iterator it, Deliveries& out);
  void OnCancelGraceOver(const AttemptToken& token);
  void RemoveWorker(WorkerConnection* connection, const std::string& reason,
                    bool closed_by_worker = false);
  void CheckHeartbeats();
  void ArmHeartbeatCheck();
  void Deliver(Deliveries& out);

  Strand strand_;
  const Clock& clock_;
  TimerService& timers_;
  ExecutorRegistry& registry_;
  const WorkerHubOptions options_;
  CapacityListener* listener_ = nullptr;

  absl::flat_hash_map<WorkerConnection*, std::unique_ptr<ConnectedWorker>> workers_;
  absl::flat_hash_map<AttemptToken, Assignment> assignments_;
  uint64_t next_worker_seq_ = 1;
  TimerId heartbeat_timer_ = kNoTimer;
};

}  // namespace batchd::core
