#include "client/format/error_format.h"

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace batchd::client {
namespace {

TEST(FormatRpcErrorTest, ListsBadRequestFieldViolations) {
  google::rpc::BadRequest bad_request;
  auto* duplicate = bad_request.add_field_violations();
  duplicate->set_field("tasks[1].id");
  duplicate->set_description("duplicate task id \"a\"");
  auto* concurrency = bad_request.add_field_violations();
  concurrency->set_field("options.max_concurrent");
  concurrency->set_description("must be positive");
  google::rpc::Status details;
  details.set_code(3);
  details.set_message("duplicate task id \"a\" (and 1 more)");
  details.add_details()->PackFrom(google::rpc::Status());  // other detail types are skipped
  details.add_details()->PackFrom(bad_request);
  const grpc::Status status(grpc::StatusCode::INVALID_ARGUMENT, details.message(),
                            details.SerializeAsString());
  EXPECT_EQ(FormatRpcError(status),
            "ERROR INVALID_ARGUMENT: duplicate task id \"a\" (and 1 more)\n"
            "  tasks[1].id: duplicate task id \"a\"\n"
            "  options.max_concurrent: must be positive\n");
}

TEST(FormatRpcErrorTest, PlainStatusAndUndecodableDetails) {
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")),
            "ERROR UNIMPLEMENTED\n");
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch b9", "\xff\xff")),
            "ERROR NOT_FOUND: no batch b9\n");
  // 20 has no name but is inside the enum's range (-32..31): anything outside it cannot be
  // held by a grpc::StatusCode at all (UBSan's enum check).
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(20)), "CODE(20)");
}

}  // namespace
}  // namespace batchd::client
