#include "server/convert/status_convert.h"

#include <string>
#include <vector>

#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

TEST(ToGrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(ToGrpcStatusTest, KeepsEveryCanonicalCodeAndMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "why");
    const grpc::Status converted = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(converted.error_code()), code);
    EXPECT_EQ(converted.error_message(), "why");
    EXPECT_TRUE(converted.error_details().empty()) << "no violations, no details";
  }
}

TEST(ToGrpcStatusTest, FieldViolationsBecomeBadRequestDetails) {
  const absl::Status status = core::InvalidArgumentWithViolations(
      {{"tasks[1].dependencies[0]", "Unknown dependency 'ghost' of task 'b'"},
       {"tasks[2].id", "Duplicate task id 'a'"}});

  const grpc::Status converted = ToGrpcStatus(status);
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(converted.error_message(), "Unknown dependency 'ghost' of task 'b' (and 1 more)");

  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(converted.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(details.message(), converted.error_message());
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(0).field(), "tasks[1].dependencies[0]");
  EXPECT_EQ(bad_request.field_violations(0).description(),
            "Unknown dependency 'ghost' of task 'b'");
  EXPECT_EQ(bad_request.field_violations(1).field(), "tasks[2].id");
  EXPECT_EQ(bad_request.field_violations(1).description(), "Duplicate task id 'a'");
}

// A status travels in trailers, which gRPC clients cap at 8 KiB: quoting a 64 KiB id must not
// turn the error into "received initial metadata size exceeds limit".
TEST(ToGrpcStatusTest, CutsLongMessagesOnACharacterBoundary) {
  const std::string id = std::string(1021, 'x') + "\xc3\xa9" + std::string(100000, 'y');
  const grpc::Status converted = ToGrpcStatus(absl::NotFoundError(id));
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::NOT_FOUND);
  // 1021 bytes, then the two-byte character would cross 1024 - 3: cut before it.
  EXPECT_EQ(converted.error_message(), std::string(1021, 'x') + "...");
}

TEST(ToGrpcStatusTest, KeepsDetailsOfManyLongViolationsSmall) {
  std::vector<core::FieldViolation> violations;
  for (int i = 0; i < 100; ++i) {
    violations.push_back({"tasks[" + std::to_string(i) + "].id",
                          "Duplicate task id '" + std::string(65536, 'd') + "'"});
  }
  const grpc::Status converted =
      ToGrpcStatus(core::InvalidArgumentWithViolations(std::move(violations)));
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(converted.error_message().size(), 1024u);
  EXPECT_THAT(converted.error_message(), ::testing::StartsWith("Duplicate task id 'ddd"));
  EXPECT_LE(converted.error_details().size(), 4096u);

  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(converted.error_details()));
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_GE(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "tasks[0].id");
  EXPECT_EQ(bad_request.field_violations(0).description().size(), 256u);
}

}  // namespace
}  // namespace batchd::server
