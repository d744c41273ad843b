#include "server/rpc/progress_stream.h"

#include "server/convert/result_convert.h"
#include "server/rpc/message_budget.h"
#include "server/rpc/request_limits.h"

namespace batchd::server {

// A progress update carries no results: its only user data are the batch's labels, which the
// request limits cap, so each update stays within the streams' message bound without splitting
// (about 280 KiB at most; 64 bytes of framing per label is generous, 256 bytes cover the rest).
static_assert(kMaxLabels * (kMaxLabelKeyBytes + kMaxLabelValueBytes + 64) + 256 <=
                  kMaxStreamMessageBytes,
              "labels must fit in one WatchProgress message");

void ProgressStream::RequestNext() {
  scheduler_.WatchProgress(batch_id_, version_, not_before_,
                           [weak = weak_from_this()](absl::StatusOr<core::ProgressUpdate> u) {
                             if (auto self = weak.lock()) {
                               self->OffStrand([u = std::move(u)](ProgressStream& s) mutable {
                                 s.OnUpdate(std::move(u));
                               });
                             }
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
