#include "server/rpc/request_limits.h"

#include <string>
#include <vector>

#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;

TEST(CheckCancelReasonTest, AcceptsReasonsUpToTheLimit) {
  EXPECT_TRUE(CheckCancelReason("").ok());
  EXPECT_TRUE(CheckCancelReason(std::string(kMaxCancelReasonBytes, 'r')).ok());
}

TEST(CheckCancelReasonTest, RefusesALongerReasonNamingTheField) {
  const absl::Status status = CheckCancelReason(std::string(kMaxCancelReasonBytes + 1, 'r'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Cancel reason is 1025 bytes; the limit is 1024");
  EXPECT_THAT(core::FieldViolationsOf(status),
              ElementsAre(core::FieldViolation{"reason",
                                               "Cancel reason is 1025 bytes; the limit is 1024"}));
}

}  // namespace
}  // namespace batchd::server
