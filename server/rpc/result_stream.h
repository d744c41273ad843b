// StreamResults: one reader's cursor over a batch's result log. It pulls the next chunk from
// the scheduler only after the previous write completed, so a slow reader only falls behind
// itself; the chunk is converted on the conversion pool and goes out in messages of at most
// kMaxStreamMessageBytes (ResultPacker), and the last message carries the summary. Thread-safe (see
// PullStream).
#pragma once

#include <string>

#include "batchd/v1/batch_service.pb.h"
#include "core/scheduling/scheduler.h"
#include "server/rpc/pull_stream.h"
#include "server/rpc/result_packer.h"

namespace batchd::server {

class ResultStream final : public PullStream<v1::StreamResultsResponse, ResultStream> {
 public:
  // Writes what is left of the current chunk, else asks the scheduler for the next one.
  void RequestNext();

 private:
  friend class PullStream<v1::StreamResultsResponse, ResultStream>;
  ResultStream(core::Scheduler& scheduler, std::string batch_id, uint64_t after_sequence)
      : scheduler_(scheduler), batch_id_(std::move(batch_id)), cursor_(after_sequence) {}

  void OnChunk(absl::StatusOr<core::ResultChunk> chunk);
  void DeliverPacked();

  core::Scheduler& scheduler_;
  const std::string batch_id_;
  // Touched only by the one pull in flight (a scheduler callback, or OnWriteDone).
  uint64_t cursor_;
  ResultPacker packer_;
};

}  // namespace batchd::server
