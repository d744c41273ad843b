// WatchProgress: sends a batch's progress when it changes, at most once per interval, and a
// final update when the batch finishes. Each update is one small message (the label limits
// bound it; see progress_stream.cc), converted on the conversion pool. Thread-safe (see
// PullStream).
#pragma once

#include <string>

#include "batchd/v1/batch_service.pb.h"
#include "core/scheduling/scheduler.h"
#include "server/rpc/pull_stream.h"

namespace batchd::server {

class ProgressStream final : public PullStream<v1::WatchProgressResponse, ProgressStream> {
 public:
  void RequestNext();

 private:
  friend class PullStream<v1::WatchProgressResponse, ProgressStream>;
  ProgressStream(core::Scheduler& scheduler, std::string batch_id, core::Duration interval)
      : scheduler_(scheduler), batch_id_(std::move(batch_id)), interval_(interval) {}

  void OnUpdate(absl::StatusOr<core::ProgressUpdate> update);

  core::Scheduler& scheduler_;
  const std::string batch_id_;
  const core::Duration interval_;
  uint64_t version_ = 0;  // touched only by the one pull in flight
  core::SteadyTime not_before_{};
};

}  // namespace batchd::server
