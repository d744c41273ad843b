#include "server/convert/worker_convert.h"

#include "server/convert/proto_convert.h"
#include "server/convert/result_convert.h"

namespace batchd::server {

core::WorkerRegistrationSpec RegistrationFromProto(const v1::WorkerRegistration& registration) {
  core::WorkerRegistrationSpec spec;
  spec.name = registration.name();
  spec.executors.assign(registration.executors().begin(), registration.executors().end());
  spec.slots = registration.slots();
  spec.weight = registration.weight();
  spec.labels.insert(registration.labels().begin(), registration.labels().end());
  return spec;
}

core::WorkerMessage WorkerMessageFromProto(const v1::ConnectRequest& request) {
  core::WorkerMessage message;
  message.heartbeat = request.has_heartbeat();
  message.outputs.reserve(request.outputs_size());
  for (const v1::TaskOutputChunk& chunk : request.outputs()) {
    message.outputs.push_back({chunk.assignment_id(), chunk.data()});
  }
  message.outcomes.reserve(request.outcomes_size());
  for (const v1::TaskOutcome& o : request.outcomes()) {
    core::WorkerOutcome& out = message.outcomes.emplace_back();
    out.assignment_id = o.assignment_id();
    out.outcome.success = o.success();
    if (o.has_output()) out.outcome.output = ValueToJson(o.output());
    out.outcome.error = o.error();
    out.outcome.non_retryable = o.non_retryable();
    if (o.retry_after_ms() > 0) out.outcome.retry_after_ms = o.retry_after_ms();
    out.outcome.throttled = o.throttled();
    if (o.has_units_used()) out.outcome.units_used = o.units_used();
  }
  message.cancel_acks.assign(request.cancel_acks().begin(), request.cancel_acks().end());
  return message;
}

void AssignmentToProto(const core::WorkerAssignment& assignment, v1::TaskAssignment* out) {
  out->set_assignment_id(assignment.assignment_id);
  out->set_batch_id(assignment.batch_id);
  out->set_task_id(assignment.task_id);
  out->set_executor(assignment.executor);
  JsonToValue(assignment.input, out->mutable_input());
  out->set_priority(assignment.priority);
  out->set_attempt(assignment.attempt);
  out->set_timeout_ms(assignment.timeout_ms);
  WallToProto(assignment.deadline, out->mutable_deadline());
  for (const std::string& d : assignment.dependencies) out->add_dependencies(d);
  auto& outputs = *out->mutable_dependency_outputs();
  for (const auto& [id, output] : assignment.dependency_outputs) JsonToValue(output, &outputs[id]);
}

void WorkerSnapshotToProto(const core::WorkerSnapshot& worker, v1::WorkerInfo* out) {
  out->set_worker_id(worker.id);
  out->set_name(worker.name);
  for (const std::string& e : worker.executors) out->add_executors(e);
  out->set_slots(worker.slots);
  out->set_slots_in_use(worker.slots_in_use);
  out->set_weight(worker.weight);
  out->mutable_labels()->insert(worker.labels.begin(), worker.labels.end());
  WallToProto(worker.connected_at, out->mutable_connected_at());
  out->set_peer(worker.peer);
  out->set_completed_tasks(worker.completed_tasks);
}

}  // namespace batchd::server
