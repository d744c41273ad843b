#include "server/progress_stream.h"

#include "server/result_convert.h"
#include "server/status_convert.h"

namespace batchd::server {

grpc::ServerWriteReactor<v1::WatchProgressResponse>* ProgressStream::Start(
    core::Scheduler& scheduler, std::string batch_id, core::Duration interval) {
  std::shared_ptr<ProgressStream> stream(
      new ProgressStream(scheduler, std::move(batch_id), interval));
  stream->self_ = stream;
  stream->RequestNext();
  return stream.get();
}

void ProgressStream::RequestNext() {
  scheduler_.WatchProgress(batch_id_, version_, not_before_,
                           [self = shared_from_this()](absl::StatusOr<core::ProgressUpdate> u) {
                             self->OnUpdate(std::move(u));
                           });
}

void ProgressStream::OnUpdate(absl::StatusOr<core::ProgressUpdate> update) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  if (!update.ok()) {
    finished_ = true;
    Finish(ToGrpcStatus(update.status()));
    return;
  }
  version_ = update->version;
  not_before_ = update->delivered_at + interval_;
  last_written_ = update->final;
  response_.Clear();
  BatchProgressToProto(update->progress, response_.mutable_progress());
  writing_ = true;
  StartWrite(&response_);
}

void ProgressStream::OnWriteDone(bool ok) {
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

void ProgressStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (finished_ || writing_) return;
  finished_ = true;
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream cancelled by the client"));
}

void ProgressStream::OnDone() { self_.reset(); }

}  // namespace batchd::server
