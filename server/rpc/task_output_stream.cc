#include "server/rpc/task_output_stream.h"

#include "server/convert/result_convert.h"

namespace batchd::server {

void TaskOutputStream::RequestNext() {
  scheduler_.ReadTaskOutput(
      batch_id_, task_id_, offset_,
      [weak = weak_from_this()](absl::StatusOr<core::TaskOutputRead> read) {
        if (auto self = weak.lock()) {
          self->OffStrand(
              [read = std::move(read)](TaskOutputStream& s) mutable { s.OnRead(std::move(read)); });
        }
      });
}

void TaskOutputStream::OnRead(absl::StatusOr<core::TaskOutputRead> read) {
  if (!read.ok()) return Fail(read.status());
  const bool last = read->result != nullptr;
  offset_ = read->offset + read->data.size();
  Deliver(
      [&](v1::StreamTaskOutputResponse* response) {
        response->set_offset(read->offset);
        response->set_data(std::move(read->data));
        response->set_dropped_bytes(read->dropped);
        if (last) TaskResultToProto(*read->result, response->mutable_result());
      },
      last);
}

}  // namespace batchd::server
