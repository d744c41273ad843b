#include "client/format/limit_format.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/format/text_table.h"
#include "client/format/units_format.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

std::string FormatPeriod(const google::protobuf::Duration& period) {
  return absl::FormatDuration(absl::Seconds(period.seconds()) + absl::Nanoseconds(period.nanos()));
}

// "4.5", "20", "0.333".
std::string FormatUnits(double units) { return absl::StrFormat("%.3g", units); }

std::string FormatRates(const v1::LimitStatus& status) {
  const v1::Limit& limit = status.limit();
  if (limit.rates().empty()) return "-";
  std::vector<std::string> rates;
  for (int i = 0; i < limit.rates_size(); ++i) {
    std::string text = FormatLimitRate(limit.rates(i));
    if (i < status.available_size() && i < status.effective_units_size()) {
      absl::StrAppend(&text, " (available ", FormatUnits(status.available(i)), ", effective ",
                      FormatUnits(status.effective_units(i)), ")");
    }
    rates.push_back(std::move(text));
  }
  return absl::StrJoin(rates, "; ");
}

}  // namespace

std::string FormatLimitRate(const v1::LimitRate& rate) {
  std::string out = absl::StrCat(rate.units(), "/", FormatPeriod(rate.period()));
  if (rate.has_burst()) absl::StrAppend(&out, " burst ", rate.burst());
  if (rate.measure() == v1::RATE_MEASURE_REQUESTS) absl::StrAppend(&out, " requests");
  return out;
}

std::string FormatLimitTable(const v1::ListLimitsResponse& response) {
  using Align = TextTable::Align;
  TextTable table(
      {"KEY", "IN FLIGHT", "WAITING", "RATES", "THROTTLED", "PAUSED"},
      {Align::kLeft, Align::kRight, Align::kRight, Align::kLeft, Align::kRight, Align::kLeft});
  for (const v1::LimitStatus& status : response.limits()) {
    const v1::Limit& limit = status.limit();
    std::string in_flight = absl::StrCat(status.in_flight());
    if (limit.has_max_in_flight()) absl::StrAppend(&in_flight, "/", limit.max_in_flight());
    table.AddRow({limit.key(), std::move(in_flight), absl::StrCat(status.waiting()),
                  FormatRates(status), absl::StrCat(status.throttled()),
                  status.has_paused_until() ? FormatTimestamp(status.paused_until()) : "-"});
  }
  return table.Render();
}

}  // namespace batchd::client
