#include "client/batchctl/limit_commands.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/format/limit_format.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

absl::Status BadRate(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --rate '", text, "': ", why,
                   " (UNITS/PERIOD[:burst=B][:requests], e.g. 20/1s:burst=5 or 90000/1m)"));
}

// "1s", "250ms", "1m", or a unit alone ("s", "m", "h"): one of it.
absl::StatusOr<absl::Duration> ParsePeriod(absl::string_view period) {
  std::string text(period);
  if (!text.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) {
    text = absl::StrCat("1", text);
  }
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("bad period");
  }
  return d;
}

// The rate's option after a ':': "burst=B" or "requests".
absl::Status ApplyRateOption(absl::string_view text, absl::string_view option,
                             v1::LimitRate& rate) {
  if (option == "requests") {
    rate.set_measure(v1::RATE_MEASURE_REQUESTS);
    return absl::OkStatus();
  }
  int64_t burst = 0;
  if (absl::ConsumePrefix(&option, "burst=")) {
    if (!absl::SimpleAtoi(option, &burst) || burst <= 0) {
      return BadRate(text, absl::StrCat("burst '", option, "' is not a positive integer"));
    }
    rate.set_burst(burst);
    return absl::OkStatus();
  }
  return BadRate(text, absl::StrCat("unknown option '", option, "'"));
}

int PrintStatus(const CommandContext& context, const v1::LimitStatus& status) {
  v1::ListLimitsResponse one;
  *one.add_limits() = status;
  context.out << FormatLimitTable(one);
  return kExitOk;
}

}  // namespace

absl::StatusOr<v1::LimitRate> ParseLimitRate(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  const std::pair<absl::string_view, absl::string_view> units_period =
      absl::StrSplit(parts[0], absl::MaxSplits('/', 1));
  v1::LimitRate rate;
  int64_t units = 0;
  if (!absl::SimpleAtoi(units_period.first, &units) || units <= 0) {
    return BadRate(text,
                   absl::StrCat("units '", units_period.first, "' are not a positive integer"));
  }
  rate.set_units(units);
  absl::StatusOr<absl::Duration> period = ParsePeriod(units_period.second);
  if (!period.ok()) {
    return BadRate(text, absl::StrCat("period '", units_period.second,
                                      "' is not a positive duration (1s, 250ms, 1m, h)"));
  }
  const int64_t nanos = absl::ToInt64Nanoseconds(*period);
  rate.mutable_period()->set_seconds(nanos / 1'000'000'000);
  rate.mutable_period()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  for (size_t i = 1; i < parts.size(); ++i) {
    if (absl::Status s = ApplyRateOption(text, parts[i], rate); !s.ok()) return s;
  }
  return rate;
}

int LimitsSetCommand(const CommandContext& context) {
  const CommandLine& command_line = context.command_line;
  v1::SetLimitRequest request;
  v1::Limit* limit = request.mutable_limit();
  limit->set_key(command_line.args[0]);
  if (command_line.max_in_flight.has_value()) limit->set_max_in_flight(*command_line.max_in_flight);
  for (const std::string& text : command_line.rates) {
    absl::StatusOr<v1::LimitRate> rate = ParseLimitRate(text);
    if (!rate.ok()) return ReportError(context, rate.status());
    *limit->add_rates() = *std::move(rate);
  }
  limit->set_units_header(command_line.units_header);
  v1::SetLimitResponse response;
  if (grpc::Status status = context.client.SetLimit(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  return PrintStatus(context, response.status());
}

int LimitsListCommand(const CommandContext& context) {
  v1::ListLimitsResponse response;
  if (grpc::Status status = context.client.ListLimits({}, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << FormatLimitTable(response);
  return kExitOk;
}

int LimitsDeleteCommand(const CommandContext& context) {
  v1::DeleteLimitRequest request;
  request.set_key(context.command_line.args[0]);
  v1::DeleteLimitResponse response;
  if (grpc::Status status = context.client.DeleteLimit(request, &response); !status.ok()) {
    return ReportRpcError(context, status);
  }
  context.out << "deleted limit '" << request.key() << "'\n";
  return kExitOk;
}

}  // namespace batchd::client
