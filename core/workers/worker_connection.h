// The daemon's view of one callback worker's stream, as plain core values: what a worker sends
// (registration, outcomes, heartbeats, cancel acknowledgements) and the WorkerConnection the
// hub talks back through. server/ implements WorkerConnection over WorkerService.Connect;
// tests use a fake. WorkerConnection methods are thread-safe and never block.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/executors/executor.h"
#include "core/time/clock.h"

namespace batchd::core {

struct WorkerRegistrationSpec {
  std::string name;
  std::vector<std::string> executors;
  uint32_t slots = 0;  // 1 to WorkerHubOptions::max_slots; 0 is refused
  double weight = 0;   // 0 = 1
  std::map<std::string, std::string> labels;
  std::string peer;  // the stream's address as the transport sees it ("ipv4:127.0.0.1:53122")
};

struct WorkerOutcome {
  std::string assignment_id;
  ExecutionOutcome outcome;
};

// One message from a worker after its registration.
// Partial output of a running assignment (TaskOutputChunk).
struct WorkerOutput {
  std::string assignment_id;
  std::string data;
};

struct WorkerMessage {
  std::vector<WorkerOutput> outputs;  // handled before the outcomes
  std::vector<WorkerOutcome> outcomes;
  bool heartbeat = false;
  std::vector<std::string> cancel_acks;
};

// One task sent to a worker (TaskAssignment).
struct WorkerAssignment {
  std::string assignment_id;
  std::string batch_id;
  std::string task_id;
  std::string executor;
  boost::json::value input;
  double priority = 0;
  uint32_t attempt = 0;
  uint32_t timeout_ms = 0;
  WallTime deadline{};
  std::vector<std::string> dependencies;
  std::vector<std::pair<std::string, boost::json::value>> dependency_outputs;
};

class WorkerConnection {
 public:
  virtual ~WorkerConnection() = default;
  // Sends are queued in order and may be packed several per stream message; they are dropped
  // once the stream has ended.
  virtual void SendRegistered(std::string worker_id, uint32_t heartbeat_interval_ms) = 0;
  virtual void SendAssignment(WorkerAssignment assignment) = 0;
  virtual void SendCancel(std::string assignment_id, std::string reason) = 0;
  // Ends the stream with `status` after what was already queued.
  virtual void Close(absl::Status status) = 0;
};

}  // namespace batchd::core
