// StreamResults: one reader's cursor over a batch's result log. It pulls the next chunk from
// the scheduler only after the previous write completed, so a slow reader only falls behind
// itself; it ends with the summary. Owned by gRPC until OnDone and by any pending scheduler
// callback (shared ownership), so a callback that arrives after the call ended is harmless.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/support/server_callback.h>

#include "absl/synchronization/mutex.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/scheduler.h"

namespace batchd::server {

class ResultStream final : public grpc::ServerWriteReactor<v1::StreamResultsResponse>,
                           public std::enable_shared_from_this<ResultStream> {
 public:
  // Starts the stream; the returned pointer is gRPC's to hold until OnDone.
  static grpc::ServerWriteReactor<v1::StreamResultsResponse>* Start(
      core::Scheduler& scheduler, std::string batch_id, uint64_t after_sequence);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  ResultStream(core::Scheduler& scheduler, std::string batch_id, uint64_t after_sequence)
      : scheduler_(scheduler), batch_id_(std::move(batch_id)), cursor_(after_sequence) {}
  void RequestNext();
  void OnChunk(absl::StatusOr<core::ResultChunk> chunk);

  core::Scheduler& scheduler_;
  const std::string batch_id_;
  uint64_t cursor_;
  bool last_written_ = false;
  v1::StreamResultsResponse response_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<ResultStream> self_;  // gRPC's reference, dropped in OnDone
};

}  // namespace batchd::server
