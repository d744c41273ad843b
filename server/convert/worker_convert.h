// Conversions between WorkerService.Connect messages and core's worker values
// (core/workers/worker_connection.h). Free functions; thread-safe.
#pragma once

#include "batchd/v1/worker_service.pb.h"
#include "core/workers/worker_connection.h"
#include "core/workers/worker_snapshot.h"

namespace batchd::server {

core::WorkerRegistrationSpec RegistrationFromProto(const v1::WorkerRegistration& registration);
// The outcomes, heartbeat and cancel acks of one message after the registration. A
// retry_after_ms of 0 means "no advice".
core::WorkerMessage WorkerMessageFromProto(const v1::ConnectRequest& request);
void AssignmentToProto(const core::WorkerAssignment& assignment, v1::TaskAssignment* out);
void WorkerSnapshotToProto(const core::WorkerSnapshot& worker, v1::WorkerInfo* out);

}  // namespace batchd::server
