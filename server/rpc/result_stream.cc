#include "server/rpc/result_stream.h"

#include "server/convert/result_convert.h"

namespace batchd::server {

void ResultStream::RequestNext() {
  // The rest of a chunk is converted here, on the gRPC thread that completed the last write; a
  // chunk's first message on the conversion pool. The strand only hands the chunk over: the
  // pointers to its immutable, durable results and what keeps them alive.
  if (!packer_.done()) return DeliverPacked();
  scheduler_.ReadResults(
      batch_id_, cursor_, [weak = weak_from_this()](absl::StatusOr<core::ResultChunk> chunk) {
        if (auto self = weak.lock()) {
          self->OffStrand(
              [chunk = std::move(chunk)](ResultStream& s) mutable { s.OnChunk(std::move(chunk)); });
        }
      });
}

void ResultStream::OnChunk(absl::StatusOr<core::ResultChunk> chunk) {
  if (!chunk.ok()) return Fail(chunk.status());
  if (chunk->summary.has_value()) {
    cursor_ = chunk->last_sequence;
    return Deliver(
        [&](v1::StreamResultsResponse* response) {
          BatchSummaryToProto(*chunk->summary, /*include_results=*/false,
                              response->mutable_summary());
          response->set_sequence(cursor_);
        },
        /*last=*/true);
  }
  packer_.Reset(*std::move(chunk));
  DeliverPacked();
}

void ResultStream::DeliverPacked() {
  Deliver(
      [&](v1::StreamResultsResponse* response) {
        packer_.PackNext(response);
        cursor_ = response->sequence();
      },
      /*last=*/false);
}

}  // namespace batchd::server
