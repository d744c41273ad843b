#include "server/journal/batch_record_codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "server/convert/proto_convert.h"

namespace batchd::server {
namespace {

template <typename Request>
std::string Encode(const Request& request) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

std::string EncodeBatchContent(const v1::SubmitBatchRequest& request) { return Encode(request); }
std::string EncodeBatchContent(const v1::ProcessBatchRequest& request) { return Encode(request); }

absl::StatusOr<core::BatchSpec> DecodeBatchContent(std::string_view content) {
  v1::SubmitBatchRequest request;
  if (!request.ParseFromArray(content.data(), static_cast<int>(content.size()))) {
    return absl::DataLossError("journal: a stored batch request does not parse");
  }
  return BatchSpecFromProto(request);
}

std::string EncodeAddedContent(const v1::AddTasksRequest& request) {
  v1::AddTasksRequest content;
  *content.mutable_tasks() = request.tasks();
  content.set_request_id(request.request_id());
  return Encode(content);
}

absl::StatusOr<std::vector<core::TaskSpec>> DecodeAddedContent(std::string_view content) {
  v1::AddTasksRequest request;
  if (!request.ParseFromArray(content.data(), static_cast<int>(content.size()))) {
    return absl::DataLossError("journal: stored added tasks do not parse");
  }
  return TasksFromProto(request.tasks());
}

}  // namespace batchd::server
