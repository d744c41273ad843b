#include "server/convert/enum_convert.h"

#include <google/protobuf/descriptor.h>

#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

// Each proto value but UNSPECIFIED has exactly one row, and no core value has two: a value added
// to batchd.v1 fails here until its table has it.
template <typename Table>
void ExpectOneRowPerValue(const Table& table, const google::protobuf::EnumDescriptor* descriptor) {
  std::set<int> protos;
  std::set<int> cores;
  for (const auto& row : table) {
    EXPECT_NE(descriptor->FindValueByNumber(row.proto), nullptr)
        << descriptor->name() << " " << row.proto;
    EXPECT_NE(row.proto, 0) << descriptor->name() << ": UNSPECIFIED is not a row";
    EXPECT_TRUE(protos.insert(row.proto).second) << descriptor->name() << " " << row.proto;
    EXPECT_TRUE(cores.insert(static_cast<int>(row.core)).second)
        << descriptor->name() << " " << row.proto;
  }
  EXPECT_EQ(static_cast<int>(table.size()), descriptor->value_count() - 1) << descriptor->name();
}

TEST(EnumConvertTest, EveryTableHasOneRowPerProtoValue) {
  ExpectOneRowPerValue(kTaskStates, v1::TaskState_descriptor());
  ExpectOneRowPerValue(kBatchStates, v1::BatchState_descriptor());
  ExpectOneRowPerValue(kRetryKinds, v1::RetryKind_descriptor());
  ExpectOneRowPerValue(kJitters, v1::Jitter_descriptor());
  ExpectOneRowPerValue(kAggregations, v1::Aggregation_descriptor());
  ExpectOneRowPerValue(kLoadBalancers, v1::LoadBalancer_descriptor());
  ExpectOneRowPerValue(kDependencyFailures, v1::DependencyFailure_descriptor());
  ExpectOneRowPerValue(kRateMeasures, v1::RateMeasure_descriptor());
}

TEST(EnumConvertTest, CoreStateNamesAreTheProtoNamesWithoutTheirPrefix) {
  for (const auto& row : core::kTaskStateNames) {
    EXPECT_EQ(v1::TaskState_Name(kTaskStates.ToProto(row.value)),
              absl::StrCat("TASK_STATE_", row.name));
  }
  for (const auto& row : core::kBatchStateNames) {
    EXPECT_EQ(v1::BatchState_Name(kBatchStates.ToProto(row.value)),
              absl::StrCat("BATCH_STATE_", row.name));
  }
  EXPECT_EQ(core::kTaskStateNames.size(), kTaskStates.size());
  EXPECT_EQ(core::kBatchStateNames.size(), kBatchStates.size());
}

TEST(EnumConvertTest, UnspecifiedIsTheDefaultAndUnknownNumbersAreNotValues) {
  EXPECT_EQ(kRetryKinds.ToCore(0), core::RetryKind::kExponential);
  EXPECT_EQ(kJitters.ToCore(0), core::Jitter::kNone);
  EXPECT_EQ(kAggregations.ToCore(0), core::Aggregation::kUnordered);
  EXPECT_EQ(kLoadBalancers.ToCore(0), core::LoadBalancerKind::kLeastLoaded);
  EXPECT_EQ(kDependencyFailures.ToCore(0), core::DependencyFailure::kSkipDependents);
  EXPECT_EQ(kTaskStates.ToCore(0), std::nullopt);  // answers only: no default
  EXPECT_EQ(kLoadBalancers.ToCore(v1::LOAD_BALANCER_RANDOM), core::LoadBalancerKind::kRandom);
  EXPECT_EQ(kAggregations.ToCore(42), std::nullopt);
  EXPECT_EQ(kJitters.ToCore(-1), std::nullopt);
}

TEST(EnumConvertTest, EveryRowReadsBothWays) {
  for (const auto& row : kDependencyFailures) {
    EXPECT_EQ(kDependencyFailures.ToCore(row.proto), row.core);
    EXPECT_EQ(kDependencyFailures.ToProto(row.core), row.proto);
  }
  for (const auto& row : kTaskStates) {
    EXPECT_EQ(kTaskStates.ToCore(row.proto), row.core);
    EXPECT_EQ(kTaskStates.ToProto(row.core), row.proto);
  }
  EXPECT_EQ(kBatchStates.ToProto(static_cast<core::BatchState>(200)), v1::BATCH_STATE_UNSPECIFIED);
}

}  // namespace
}  // namespace batchd::server
