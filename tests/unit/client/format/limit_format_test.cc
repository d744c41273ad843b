#include "client/format/limit_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

v1::LimitRate Rate(int64_t units, int64_t seconds) {
  v1::LimitRate rate;
  rate.set_units(units);
  rate.mutable_period()->set_seconds(seconds);
  return rate;
}

TEST(FormatLimitRateTest, SpellsOutUnitsPeriodBurstAndMeasure) {
  EXPECT_EQ(FormatLimitRate(Rate(20, 1)), "20/1s");
  v1::LimitRate tokens = Rate(90000, 60);
  tokens.set_burst(10000);
  EXPECT_EQ(FormatLimitRate(tokens), "90000/1m burst 10000");
  v1::LimitRate requests = Rate(500, 60);
  requests.set_measure(v1::RATE_MEASURE_REQUESTS);
  EXPECT_EQ(FormatLimitRate(requests), "500/1m requests");
  v1::LimitRate fast = Rate(3, 0);
  fast.mutable_period()->set_nanos(250'000'000);
  EXPECT_EQ(FormatLimitRate(fast), "3/250ms");
}

TEST(FormatLimitTableTest, OneRowPerKey) {
  v1::ListLimitsResponse response;
  v1::LimitStatus* db = response.add_limits();
  db->mutable_limit()->set_key("db");
  db->mutable_limit()->set_max_in_flight(2);
  db->set_in_flight(2);
  db->set_waiting(5);
  v1::LimitStatus* openai = response.add_limits();
  openai->mutable_limit()->set_key("openai");
  *openai->mutable_limit()->add_rates() = Rate(20, 1);
  openai->mutable_limit()->mutable_rates(0)->set_burst(5);
  *openai->mutable_limit()->add_rates() = Rate(500, 60);
  openai->add_available(4.5);
  openai->add_available(500);
  openai->add_effective_units(10);
  openai->add_effective_units(500);
  openai->set_in_flight(1);
  openai->set_throttled(3);
  openai->mutable_paused_until()->set_seconds(1714564800);  // 2024-05-01T12:00:00Z

  const std::string rates =
      "20/1s burst 5 (available 4.5, effective 10); 500/1m (available 500, effective 500)";
  const std::string pad(rates.size() - 1, ' ');
  EXPECT_EQ(FormatLimitTable(response), "KEY     IN FLIGHT  WAITING  RATES" +
                                            std::string(rates.size() - 5, ' ') +
                                            "  THROTTLED  PAUSED\n"
                                            "db            2/2        5  -" +
                                            pad +
                                            "          0  -\n"
                                            "openai          1        0  " +
                                            rates + "          3  2024-05-01T12:00:00Z\n");
}

TEST(FormatLimitTableTest, NoLimitsIsTheHeaderAlone) {
  EXPECT_EQ(FormatLimitTable({}), "KEY  IN FLIGHT  WAITING  RATES  THROTTLED  PAUSED\n");
}

}  // namespace
}  // namespace batchd::client
