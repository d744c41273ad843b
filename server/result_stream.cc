#include "server/result_stream.h"

#include "server/result_convert.h"
#include "server/status_convert.h"

namespace batchd::server {

grpc::ServerWriteReactor<v1::StreamResultsResponse>* ResultStream::Start(
    core::Scheduler& scheduler, std::string batch_id, uint64_t after_sequence) {
  std::shared_ptr<ResultStream> stream(
      new ResultStream(scheduler, std::move(batch_id), after_sequence));
  stream->self_ = stream;
  stream->RequestNext();
  return stream.get();
}

void ResultStream::RequestNext() {
  scheduler_.ReadResults(batch_id_, cursor_,
                         [self = shared_from_this()](absl::StatusOr<core::ResultChunk> chunk) {
                           self->OnChunk(std::move(chunk));
                         });
}

void ResultStream::OnChunk(absl::StatusOr<core::ResultChunk> chunk) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  if (!chunk.ok()) {
    finished_ = true;
    Finish(ToGrpcStatus(chunk.status()));
    return;
  }
  response_.Clear();
  if (chunk->summary.has_value()) {
    BatchSummaryToProto(*chunk->summary, /*include_results=*/false, response_.mutable_summary());
    last_written_ = true;
  } else {
    response_.mutable_results()->Reserve(static_cast<int>(chunk->results.size()));
    for (const core::TaskResult* r : chunk->results) TaskResultToProto(*r, response_.add_results());
  }
  cursor_ = chunk->last_sequence;
  response_.set_sequence(cursor_);
  writing_ = true;
  StartWrite(&response_);
}

void ResultStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finished_) return;
    if (!ok || last_written_ || cancelled_) {
      finished_ = true;
      Finish(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed"));
      return;
    }
  }
  RequestNext();
}

void ResultStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (finished_ || writing_) return;  // an outstanding write finishes the call when it ends
  finished_ = true;
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream cancelled by the client"));
}

void ResultStream::OnDone() { self_.reset(); }

}  // namespace batchd::server
