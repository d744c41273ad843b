// StreamTaskOutput: one reader's offset into a task's partial output. Like ResultStream it pulls
// the next slice from the scheduler only after the previous write completed (a slow reader only
// falls behind itself, and what the daemon dropped meanwhile is reported as dropped_bytes); the
// last message carries the task's result. Thread-safe (see PullStream).
#pragma once

#include <string>

#include "batchd/v1/batch_service.pb.h"
#include "core/scheduling/scheduler.h"
#include "server/rpc/pull_stream.h"

namespace batchd::server {

class TaskOutputStream final : public PullStream<v1::StreamTaskOutputResponse, TaskOutputStream> {
 public:
  void RequestNext();

 private:
  friend class PullStream<v1::StreamTaskOutputResponse, TaskOutputStream>;
  TaskOutputStream(core::Scheduler& scheduler, std::string batch_id, std::string task_id,
                   uint64_t after_offset)
      : scheduler_(scheduler),
        batch_id_(std::move(batch_id)),
        task_id_(std::move(task_id)),
        offset_(after_offset) {}

  void OnRead(absl::StatusOr<core::TaskOutputRead> read);

  core::Scheduler& scheduler_;
  const std::string batch_id_;
  const std::string task_id_;
  uint64_t offset_;  // touched only by the one pull in flight
};

}  // namespace batchd::server
