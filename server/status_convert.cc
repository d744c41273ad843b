#include "server/status_convert.h"

#include <string>
#include <vector>

#include "core/field_violation.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace batchd::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode are both the canonical codes, number for number.
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  std::vector<core::FieldViolation> violations = core::FieldViolationsOf(status);
  if (violations.empty()) return grpc::Status(code, std::move(message));

  google::rpc::BadRequest bad_request;
  for (core::FieldViolation& violation : violations) {
    google::rpc::BadRequest::FieldViolation* out = bad_request.add_field_violations();
    out->set_field(std::move(violation.field));
    out->set_description(std::move(violation.description));
  }
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(status.code()));
  details.set_message(message);
  details.add_details()->PackFrom(bad_request);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}

}  // namespace batchd::server
