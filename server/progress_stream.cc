#include "server/progress_stream.h"

#include "server/result_convert.h"

namespace batchd::server {

void ProgressStream::RequestNext() {
  scheduler_.WatchProgress(batch_id_, version_, not_before_,
                           [weak = weak_from_this()](absl::StatusOr<core::ProgressUpdate> u) {
                             if (auto self = weak.lock()) self->OnUpdate(std::move(u));
                           });
}

void ProgressStream::OnUpdate(absl::StatusOr<core::ProgressUpdate> update) {
  if (!update.ok()) return Fail(update.status());
  version_ = update->version;
  not_before_ = update->delivered_at + interval_;
  Deliver(
      [&](v1::WatchProgressResponse* response) {
        BatchProgressToProto(update->progress, response->mutable_progress());
      },
      update->final);
}

}  // namespace batchd::server
