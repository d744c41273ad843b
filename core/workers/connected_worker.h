// A registered callback worker as the hub keeps it, and the interface through which the
// executors it serves hand attempts to the hub. Split from worker_hub.h so that WorkerExecutor
// depends on these two only (the hub depends on the executor, never the reverse).
// Strand only: owned and mutated by the WorkerHub on the scheduler's strand.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/executors/executor.h"
#include "core/time/clock.h"
#include "core/workers/worker_connection.h"

namespace batchd::core {

class WorkerExecutor;

// Owned by the hub while it is connected; its executors hold plain pointers to it until the hub
// removes it from them. It holds the executors it serves, so each lives while a worker serves it.
struct ConnectedWorker {
  std::string id;
  uint64_t seq = 0;  // registration order
  std::string name;
  std::string peer;
  std::shared_ptr<WorkerConnection> connection;
  std::vector<std::shared_ptr<WorkerExecutor>> executors;
  std::map<std::string, std::string> labels;
  uint32_t slots = 1;
  double weight = 1;
  uint32_t in_flight = 0;  // assignments holding a slot: running, or cancelled and not yet acked
  SteadyTime last_seen{};
  WallTime connected_at{};
  uint64_t completed_tasks = 0;  // outcomes that ended one of its assignments
};

// What a WorkerExecutor needs from the hub that owns its workers. Strand only.
class WorkerDispatcher {
 public:
  virtual ~WorkerDispatcher() = default;
  // Sends the attempt to `worker`, holding one of its slots.
  virtual void Dispatch(ConnectedWorker& worker, const ExecutionRequest& request,
                        CompletionSink& sink) = 0;
  // Sends a cancel; the slot stays held until the worker acks or the grace passes. Nothing
  // happens for an attempt no worker runs.
  virtual void CancelAttempt(const AttemptToken& token, std::string_view reason) = 0;
};

}  // namespace batchd::core
