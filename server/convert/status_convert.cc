#include "server/convert/status_convert.h"

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/model/field_violation.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace batchd::server {
namespace {

// A status travels in HTTP/2 trailers, whose size clients cap (gRPC's default is 8 KiB, and
// grpc-message may triple in percent-encoding): an error quoting a 64 KiB task id, or a
// hundred of them in the details, would reach the client as a transport failure instead of
// the error. Each text is cut to these sizes, and details stop at the budget.
constexpr size_t kMaxMessageBytes = 1024;
constexpr size_t kMaxViolationTextBytes = 256;
constexpr size_t kMaxDetailsBytes = 2048;  // of violations, beside the message
constexpr char kCutMark[] = "...";

// `text` cut to at most `max_bytes` on a UTF-8 character boundary, ending in "..." when cut.
std::string Cut(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes - (sizeof(kCutMark) - 1);
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  std::string out(text.substr(0, end));
  out.append(kCutMark);
  return out;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode are both the canonical codes, number for number.
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message = Cut(status.message(), kMaxMessageBytes);
  std::vector<core::FieldViolation> violations = core::FieldViolationsOf(status);
  if (violations.empty()) return grpc::Status(code, std::move(message));

  google::rpc::BadRequest bad_request;
  size_t budget = kMaxDetailsBytes;
  for (const core::FieldViolation& violation : violations) {
    std::string field = Cut(violation.field, kMaxViolationTextBytes);
    std::string description = Cut(violation.description, kMaxViolationTextBytes);
    const size_t bytes = field.size() + description.size() + 8;  // + framing
    if (bytes > budget) break;  // the message already counts the violations left out
    budget -= bytes;
    google::rpc::BadRequest::FieldViolation* out = bad_request.add_field_violations();
    out->set_field(std::move(field));
    out->set_description(std::move(description));
  }
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(status.code()));
  details.set_message(message);
  details.add_details()->PackFrom(bad_request);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}

}  // namespace batchd::server
