#include "server/result_stream.h"

#include "server/result_convert.h"

namespace batchd::server {

void ResultStream::RequestNext() {
  scheduler_.ReadResults(batch_id_, cursor_,
                         [weak = weak_from_this()](absl::StatusOr<core::ResultChunk> chunk) {
                           if (auto self = weak.lock()) self->OnChunk(std::move(chunk));
                         });
}

void ResultStream::OnChunk(absl::StatusOr<core::ResultChunk> chunk) {
  if (!chunk.ok()) return Fail(chunk.status());
  cursor_ = chunk->last_sequence;
  const bool last = chunk->summary.has_value();
  Deliver(
      [&](v1::StreamResultsResponse* response) {
        if (last) {
          BatchSummaryToProto(*chunk->summary, /*include_results=*/false,
                              response->mutable_summary());
        } else {
          response->mutable_results()->Reserve(static_cast<int>(chunk->results.size()));
          for (const core::TaskResult* r : chunk->results) {
            TaskResultToProto(*r, response->add_results());
          }
        }
        response->set_sequence(cursor_);
      },
      last);
}

}  // namespace batchd::server
