// LimitSpec::Validate: every bad field is named, with its value; FormatRate for messages.
#include "core/limits/limit_spec.h"

#include <chrono>

#include "absl/status/status.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;

LimitSpec Openai() { return {"openai", std::nullopt, {{500, minutes(1), std::nullopt}}}; }

TEST(LimitSpecTest, AcceptsConcurrencyOnlyRatesOnlyAndBoth) {
  EXPECT_TRUE((LimitSpec{"tenant:42", 10, {}}).Validate().ok());
  EXPECT_TRUE(Openai().Validate().ok());
  LimitSpec both = Openai();
  both.max_in_flight = 4;
  both.rates.push_back({90'000, minutes(1), 10'000});
  both.rates.push_back({20, milliseconds(250), std::nullopt, RateMeasure::kRequests});
  EXPECT_TRUE(both.Validate().ok());
}

TEST(LimitSpecTest, BurstDefaultsToTheUnitsPerPeriod) {
  EXPECT_EQ(Openai().rates[0].Burst(), 500);
  EXPECT_EQ((LimitRate{1000, seconds(1), 100}).Burst(), 100);
}

TEST(LimitSpecTest, RefusesZeroAndNegativePeriods) {
  LimitSpec spec = Openai();
  spec.rates[0].period = seconds(0);
  absl::Status status = spec.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Limit 'openai': rates[0].period must be positive, got 0");

  spec.rates[0].period = -seconds(1);
  EXPECT_EQ(spec.Validate().message(), "Limit 'openai': rates[0].period must be positive, got -1s");
}

TEST(LimitSpecTest, NamesEveryBadFieldOfEveryRate) {
  LimitSpec spec{"openai", 0, {{0, seconds(1), 0}, {5, std::chrono::hours(24 * 367), 2}}};
  const absl::Status status = spec.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Limit 'openai': max_in_flight must be at least 1, got 0 (and 3 more)");
  EXPECT_THAT(
      FieldViolationsOf(status),
      ElementsAre(
          FieldViolation{"max_in_flight",
                         "Limit 'openai': max_in_flight must be at least 1, got 0"},
          FieldViolation{"rates[0].units",
                         "Limit 'openai': rates[0].units must be at least 1, got 0"},
          FieldViolation{"rates[0].burst",
                         "Limit 'openai': rates[0].burst must be at least 1, got 0"},
          FieldViolation{"rates[1].period",
                         "Limit 'openai': rates[1].period must be at most 8784h, got 8808h"}));
}

TEST(LimitSpecTest, RefusesUnitsAndBurstPastTheBound) {
  LimitSpec spec{"big", std::nullopt, {{kMaxLimitUnits + 1, seconds(1), kMaxLimitUnits + 1}}};
  EXPECT_THAT(FieldViolationsOf(spec.Validate()),
              ElementsAre(FieldViolation{"rates[0].units",
                                         "Limit 'big': rates[0].units must be at most "
                                         "1099511627776, got 1099511627777"},
                          FieldViolation{"rates[0].burst",
                                         "Limit 'big': rates[0].burst must be at most "
                                         "1099511627776, got 1099511627777"}));
}

TEST(LimitSpecTest, RefusesAnEmptyKeyAndALimitThatLimitsNothing) {
  EXPECT_EQ((LimitSpec{"", 1, {}}).Validate().message(), "Limit key must not be empty");
  EXPECT_EQ((LimitSpec{std::string(257, 'k'), 1, {}}).Validate().message(),
            "Limit key must be at most 256 bytes, got 257");
  const absl::Status nothing = LimitSpec{"idle", std::nullopt, {}}.Validate();
  EXPECT_EQ(nothing.message(), "Limit 'idle' has neither max_in_flight nor a rate");
  EXPECT_THAT(
      FieldViolationsOf(nothing),
      ElementsAre(FieldViolation{"rates", "Limit 'idle' has neither max_in_flight nor a rate"}));
}

TEST(LimitSpecTest, UnitsHeaderMustBeAnHttpHeaderName) {
  LimitSpec spec = Openai();
  for (const char* name : {"x-usage-tokens", "X_Usage.Tokens~1", "!#$%&'*+-.^`|"}) {
    spec.units_header = name;
    EXPECT_TRUE(spec.Validate().ok()) << name;
  }
  spec.units_header = "x usage";
  EXPECT_THAT(FieldViolationsOf(spec.Validate()),
              ElementsAre(FieldViolation{
                  "units_header",
                  "Limit 'openai': units_header 'x usage' is not a valid HTTP header name"}));
  spec.units_header = "x-usage:\r\n";
  EXPECT_EQ(spec.Validate().message(),
            "Limit 'openai': units_header 'x-usage:\\r\\n' is not a valid HTTP header name");
}

TEST(LimitSpecTest, FormatsRates) {
  EXPECT_EQ(FormatRate({500, minutes(1), std::nullopt}), "500 per 1m");
  EXPECT_EQ(FormatRate({1000, seconds(1), 100}), "1000 per 1s (burst 100)");
  EXPECT_EQ(FormatRate({20, milliseconds(250), std::nullopt, RateMeasure::kRequests}),
            "20 per 250ms requests");
}

}  // namespace
}  // namespace batchd::core
