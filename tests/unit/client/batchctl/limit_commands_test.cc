// batchctl limits set / list / delete against a scripted in-process server (tests/testing), and
// the --rate text they take.
#include "client/batchctl/limit_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "client/format/error_format.h"
#include "client/format/limit_format.h"
#include "tests/testing/fake_batch_service.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class LimitCommandsTest : public ::testing::Test {
 protected:
  int Run(int (*command)(const CommandContext&), const std::vector<std::string>& args) {
    absl::StatusOr<CommandLine> command_line = ParseCommandLine(args, "127.0.0.1:50051");
    EXPECT_TRUE(command_line.ok()) << command_line.status();
    if (!command_line.ok()) return -1;
    // batchctl's main names the subcommand `limits set`; the commands see only its arguments.
    command_line->args.erase(command_line->args.begin());
    const BatchClient client(server_.channel(), CallTimeouts{});
    const ChannelOptions channel;
    std::istringstream stdin_stream;
    const CommandContext context{*command_line, client, channel, stdin_stream, out_, err_};
    return command(context);
  }

  batchd::testing::FakeBatchServer server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST(ParseLimitRateTest, UnitsPeriodBurstAndMeasure) {
  absl::StatusOr<v1::LimitRate> rate = ParseLimitRate("20/1s:burst=5");
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->ShortDebugString(), "units: 20 period { seconds: 1 } burst: 5");
  rate = ParseLimitRate("90000/1m");
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->ShortDebugString(), "units: 90000 period { seconds: 60 }");
  rate = ParseLimitRate("500/m:requests:burst=50");
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->ShortDebugString(),
            "units: 500 period { seconds: 60 } burst: 50 measure: RATE_MEASURE_REQUESTS");
  rate = ParseLimitRate("3/250ms");
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->ShortDebugString(), "units: 3 period { nanos: 250000000 }");
}

TEST(ParseLimitRateTest, RefusesEachBadPartByName) {
  const std::string form = " (UNITS/PERIOD[:burst=B][:requests], e.g. 20/1s:burst=5 or 90000/1m)";
  EXPECT_EQ(ParseLimitRate("20").status().message(),
            "invalid --rate '20': period '' is not a positive duration (1s, 250ms, 1m, h)" + form);
  EXPECT_EQ(ParseLimitRate("x/1s").status().message(),
            "invalid --rate 'x/1s': units 'x' are not a positive integer" + form);
  EXPECT_EQ(ParseLimitRate("0/1s").status().message(),
            "invalid --rate '0/1s': units '0' are not a positive integer" + form);
  EXPECT_EQ(
      ParseLimitRate("5/-1s").status().message(),
      "invalid --rate '5/-1s': period '-1s' is not a positive duration (1s, 250ms, 1m, h)" + form);
  EXPECT_EQ(ParseLimitRate("5/1s:burst=0").status().message(),
            "invalid --rate '5/1s:burst=0': burst '0' is not a positive integer" + form);
  EXPECT_EQ(ParseLimitRate("5/1s:fast").status().message(),
            "invalid --rate '5/1s:fast': unknown option 'fast'" + form);
  EXPECT_EQ(ParseLimitRate("5/1s").status().code(), absl::StatusCode::kOk);
}

TEST_F(LimitCommandsTest, SetSendsTheLimitAndPrintsItsStatus) {
  v1::SetLimitResponse answer;
  answer.mutable_status()->mutable_limit()->set_key("openai");
  answer.mutable_status()->mutable_limit()->set_max_in_flight(4);
  server_.limits.script()->set = answer;
  EXPECT_EQ(Run(LimitsSetCommand, {"limits", "set", "openai", "--max-in-flight", "4", "--rate",
                                   "90000/1m:burst=10000", "--rate=500/1m:requests",
                                   "--units-header", "x-usage-tokens"}),
            kExitOk);
  EXPECT_THAT(server_.log.calls(),
              ElementsAre("SetLimit limit { key: \"openai\" max_in_flight: 4 rates { units: 90000 "
                          "period { seconds: 60 } burst: 10000 } rates { units: 500 period { "
                          "seconds: 60 } measure: RATE_MEASURE_REQUESTS } units_header: "
                          "\"x-usage-tokens\" }"));
  v1::ListLimitsResponse one;
  *one.add_limits() = answer.status();
  EXPECT_EQ(out_.str(), FormatLimitTable(one));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(LimitCommandsTest, SetRefusesABadRateWithoutCallingTheDaemon) {
  EXPECT_EQ(Run(LimitsSetCommand, {"limits", "set", "k", "--rate", "5/1s:fast"}), kExitFailure);
  EXPECT_EQ(err_.str(),
            "batchctl: invalid --rate '5/1s:fast': unknown option 'fast' (UNITS/PERIOD[:burst=B]"
            "[:requests], e.g. 20/1s:burst=5 or 90000/1m)\n");
  EXPECT_THAT(server_.log.calls(), IsEmpty());
}

TEST_F(LimitCommandsTest, SetReportsTheDaemonsError) {
  server_.limits.script()->status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                 "Limit 'k' has neither max_in_flight nor a rate");
  EXPECT_EQ(Run(LimitsSetCommand, {"limits", "set", "k"}), kExitFailure);
  EXPECT_EQ(err_.str(), FormatRpcError(server_.limits.script()->status));
  EXPECT_EQ(out_.str(), "");
}

TEST_F(LimitCommandsTest, ListPrintsTheTable) {
  v1::ListLimitsResponse limits;
  limits.add_limits()->mutable_limit()->set_key("db");
  server_.limits.script()->list = limits;
  EXPECT_EQ(Run(LimitsListCommand, {"limits", "list"}), kExitOk);
  EXPECT_EQ(out_.str(), FormatLimitTable(limits));
  EXPECT_THAT(server_.log.calls(), ElementsAre("ListLimits "));
}

TEST_F(LimitCommandsTest, DeleteNamesTheKey) {
  EXPECT_EQ(Run(LimitsDeleteCommand, {"limits", "delete", "openai"}), kExitOk);
  EXPECT_EQ(out_.str(), "deleted limit 'openai'\n");
  EXPECT_THAT(server_.log.calls(), ElementsAre("DeleteLimit key: \"openai\""));
}

TEST_F(LimitCommandsTest, DeleteReportsNotFound) {
  server_.limits.script()->status = grpc::Status(grpc::StatusCode::NOT_FOUND, "No limit 'x'");
  EXPECT_EQ(Run(LimitsDeleteCommand, {"limits", "delete", "x"}), kExitFailure);
  EXPECT_EQ(err_.str(), FormatRpcError(server_.limits.script()->status));
}

}  // namespace
}  // namespace batchd::client
