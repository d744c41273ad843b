#include "server/convert/limit_convert.h"

#include <chrono>
#include <string>

#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::batchd::core::FieldViolation;
using ::testing::ElementsAre;
using namespace std::chrono_literals;

v1::LimitRate* AddRate(v1::Limit& limit, int64_t units, int64_t seconds, int32_t nanos = 0) {
  v1::LimitRate* rate = limit.add_rates();
  rate->set_units(units);
  rate->mutable_period()->set_seconds(seconds);
  rate->mutable_period()->set_nanos(nanos);
  return rate;
}

TEST(LimitSpecFromProtoTest, CopiesEveryField) {
  v1::Limit limit;
  limit.set_key("openai");
  limit.set_max_in_flight(8);
  limit.set_units_header("x-usage-tokens");
  v1::LimitRate* tokens = AddRate(limit, 90000, 60);
  tokens->set_burst(10000);
  AddRate(limit, 500, 0, 250'000'000)->set_measure(v1::RATE_MEASURE_REQUESTS);

  absl::StatusOr<core::LimitSpec> spec = LimitSpecFromProto(limit);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->key, "openai");
  EXPECT_EQ(spec->max_in_flight, std::optional<int64_t>(8));
  EXPECT_EQ(spec->units_header, "x-usage-tokens");
  ASSERT_EQ(spec->rates.size(), 2u);
  EXPECT_EQ(spec->rates[0].units, 90000);
  EXPECT_EQ(spec->rates[0].period, std::chrono::minutes(1));
  EXPECT_EQ(spec->rates[0].burst, std::optional<int64_t>(10000));
  EXPECT_EQ(spec->rates[0].measure, core::RateMeasure::kUnits);
  EXPECT_EQ(spec->rates[1].period, 250ms);
  EXPECT_EQ(spec->rates[1].burst, std::nullopt);
  EXPECT_EQ(spec->rates[1].measure, core::RateMeasure::kRequests);
}

TEST(LimitSpecFromProtoTest, UnsetMaxInFlightAndMeasureAreCoreDefaults) {
  v1::Limit limit;
  limit.set_key("k");
  AddRate(limit, 5, 1);
  absl::StatusOr<core::LimitSpec> spec = LimitSpecFromProto(limit);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->max_in_flight, std::nullopt);
  EXPECT_EQ(spec->rates[0].measure, core::RateMeasure::kUnits);
  EXPECT_EQ(spec->units_header, "");
}

TEST(LimitSpecFromProtoTest, AMissingPeriodIsReportedOnceAsMissing) {
  v1::Limit limit;
  limit.set_key("k");
  limit.add_rates()->set_units(5);

  const absl::Status status = LimitSpecFromProto(limit).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Limit 'k': limit.rates[0].period is missing (a positive duration, e.g. 1s)");
  EXPECT_THAT(core::FieldViolationsOf(status),
              ElementsAre(FieldViolation{
                  "limit.rates[0].period",
                  "Limit 'k': limit.rates[0].period is missing (a positive duration, e.g. 1s)"}));
}

TEST(LimitSpecFromProtoTest, ANonPositivePeriodNamesTheRate) {
  v1::Limit limit;
  limit.set_key("k");
  AddRate(limit, 5, 1);
  AddRate(limit, 5, -2);

  const absl::Status status = LimitSpecFromProto(limit).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(core::FieldViolationsOf(status),
              ElementsAre(FieldViolation{"limit.rates[1].period",
                                         "Limit 'k': rates[1].period must be positive, got -2s"}));
}

TEST(LimitSpecFromProtoTest, EveryViolationInFieldOrder) {
  v1::Limit limit;
  limit.set_max_in_flight(0);
  v1::LimitRate* rate = limit.add_rates();
  rate->set_units(0);
  rate->set_measure(static_cast<v1::RateMeasure>(9));
  rate->set_burst(-1);

  const absl::Status status = LimitSpecFromProto(limit).status();
  EXPECT_EQ(status.message(), "Limit key must not be empty (and 5 more)");
  EXPECT_THAT(
      core::FieldViolationsOf(status),
      ElementsAre(
          FieldViolation{"limit.key", "Limit key must not be empty"},
          FieldViolation{"limit.max_in_flight",
                         "Limit '': max_in_flight must be at least 1, got 0"},
          FieldViolation{"limit.rates[0].units",
                         "Limit '': rates[0].units must be at least 1, got 0"},
          FieldViolation{
              "limit.rates[0].period",
              "Limit '': limit.rates[0].period is missing (a positive duration, e.g. 1s)"},
          FieldViolation{"limit.rates[0].burst",
                         "Limit '': rates[0].burst must be at least 1, got -1"},
          FieldViolation{"limit.rates[0].measure", "limit.rates[0].measure: unknown value 9"}));
}

TEST(LimitSpecFromProtoTest, NeitherBoundNamesRates) {
  v1::Limit limit;
  limit.set_key("k");
  EXPECT_THAT(
      core::FieldViolationsOf(LimitSpecFromProto(limit).status()),
      ElementsAre(FieldViolation{"limit.rates", "Limit 'k' has neither max_in_flight nor a rate"}));
}

TEST(LimitSpecFromProtoTest, AHugePeriodIsOverTheMaximumNotAnOverflow) {
  v1::Limit limit;
  limit.set_key("k");
  AddRate(limit, 5, 315'576'000'000);
  const std::vector<FieldViolation> violations =
      core::FieldViolationsOf(LimitSpecFromProto(limit).status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "limit.rates[0].period");
  EXPECT_THAT(violations[0].description, ::testing::HasSubstr("must be at most 8784h"));
}

TEST(LimitSpecToProtoTest, RoundTrips) {
  v1::Limit limit;
  limit.set_key("openai");
  limit.set_max_in_flight(3);
  limit.set_units_header("x-usage-tokens");
  AddRate(limit, 90000, 60)->set_burst(100);
  AddRate(limit, 7, 1, 500'000'000)->set_measure(v1::RATE_MEASURE_REQUESTS);
  absl::StatusOr<core::LimitSpec> spec = LimitSpecFromProto(limit);
  ASSERT_TRUE(spec.ok()) << spec.status();

  v1::Limit back;
  LimitSpecToProto(*spec, &back);
  EXPECT_EQ(back.key(), "openai");
  EXPECT_EQ(back.max_in_flight(), 3);
  EXPECT_EQ(back.units_header(), "x-usage-tokens");
  ASSERT_EQ(back.rates_size(), 2);
  EXPECT_EQ(back.rates(0).units(), 90000);
  EXPECT_EQ(back.rates(0).period().seconds(), 60);
  EXPECT_EQ(back.rates(0).burst(), 100);
  EXPECT_EQ(back.rates(0).measure(), v1::RATE_MEASURE_UNITS);
  EXPECT_EQ(back.rates(1).period().seconds(), 1);
  EXPECT_EQ(back.rates(1).period().nanos(), 500'000'000);
  EXPECT_FALSE(back.rates(1).has_burst());
  EXPECT_EQ(back.rates(1).measure(), v1::RATE_MEASURE_REQUESTS);
}

TEST(LimitSpecToProtoTest, NoMaxInFlightStaysUnset) {
  core::LimitSpec spec;
  spec.key = "k";
  spec.rates.push_back({.units = 1, .period = 1s, .burst = std::nullopt});
  v1::Limit out;
  LimitSpecToProto(spec, &out);
  EXPECT_FALSE(out.has_max_in_flight());
}

TEST(LimitStateToProtoTest, CopiesCountsAndConvertsThePauseToWallTime) {
  core::LimitState state;
  state.spec.key = "openai";
  state.spec.max_in_flight = 2;
  state.spec.rates.push_back({.units = 20, .period = 1s, .burst = std::nullopt});
  state.in_flight = 2;
  state.waiting = 7;
  state.throttled = 3;
  state.available = {4.5};
  state.effective_rate = {10};
  const core::SteadyTime steady_now{std::chrono::hours(5)};
  const core::WallTime wall_now{std::chrono::seconds(1'700'000'000)};
  state.paused_until = steady_now + 1500ms;

  v1::LimitStatus out;
  LimitStateToProto(state, steady_now, wall_now, &out);
  EXPECT_EQ(out.limit().key(), "openai");
  EXPECT_EQ(out.limit().max_in_flight(), 2);
  EXPECT_EQ(out.in_flight(), 2);
  EXPECT_EQ(out.waiting(), 7u);
  EXPECT_EQ(out.throttled(), 3);
  EXPECT_THAT(out.available(), ElementsAre(4.5));
  EXPECT_THAT(out.effective_units(), ElementsAre(10));
  ASSERT_TRUE(out.has_paused_until());
  EXPECT_EQ(out.paused_until().seconds(), 1'700'000'001);
  EXPECT_EQ(out.paused_until().nanos(), 500'000'000);
}

TEST(LimitStateToProtoTest, NoPauseNoTimestamp) {
  core::LimitState state;
  state.spec.key = "k";
  v1::LimitStatus out;
  LimitStateToProto(state, core::SteadyTime{}, core::WallTime{}, &out);
  EXPECT_FALSE(out.has_paused_until());
}

// core::FieldPathBefore spells out SetLimitRequest's field numbers; they must be the .proto's.
void ExpectFieldsInNumberOrder(const google::protobuf::Descriptor& message,
                               const std::string& prefix) {
  for (int i = 0; i < message.field_count(); ++i) {
    for (int j = 0; j < message.field_count(); ++j) {
      const google::protobuf::FieldDescriptor& x = *message.field(i);
      const google::protobuf::FieldDescriptor& y = *message.field(j);
      EXPECT_EQ(core::FieldPathBefore(prefix + x.name(), prefix + y.name()),
                x.number() < y.number())
          << message.full_name() << ": " << x.name() << " vs " << y.name();
    }
  }
}

TEST(LimitFieldOrderTest, MatchesTheProtoFieldNumbers) {
  ExpectFieldsInNumberOrder(*v1::Limit::descriptor(), "limit.");
  ExpectFieldsInNumberOrder(*v1::LimitRate::descriptor(), "limit.rates[2].");
}

}  // namespace
}  // namespace batchd::server
