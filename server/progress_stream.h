// WatchProgress: sends a batch's progress when it changes, at most once per interval, and a
// final update when the batch finishes. Same ownership scheme as ResultStream.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/support/server_callback.h>

#include "absl/synchronization/mutex.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/scheduler.h"

namespace batchd::server {

class ProgressStream final : public grpc::ServerWriteReactor<v1::WatchProgressResponse>,
                             public std::enable_shared_from_this<ProgressStream> {
 public:
  static grpc::ServerWriteReactor<v1::WatchProgressResponse>* Start(core::Scheduler& scheduler,
                                                                    std::string batch_id,
                                                                    core::Duration interval);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  ProgressStream(core::Scheduler& scheduler, std::string batch_id, core::Duration interval)
      : scheduler_(scheduler), batch_id_(std::move(batch_id)), interval_(interval) {}
  void RequestNext();
  void OnUpdate(absl::StatusOr<core::ProgressUpdate> update);

  core::Scheduler& scheduler_;
  const std::string batch_id_;
  const core::Duration interval_;
  uint64_t version_ = 0;
  core::SteadyTime not_before_{};
  bool last_written_ = false;
  v1::WatchProgressResponse response_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<ProgressStream> self_;
};

}  // namespace batchd::server
