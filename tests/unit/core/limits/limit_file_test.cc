// The limits file: the example parses (and deploy/limits.example.json is it), every error says
// where it is and what is wrong, and LimitSpecToJson / LimitSpecFromJson round-trip exactly.
#include "core/limits/limit_file.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/status/status.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;

constexpr char kExample[] = R"({
  "limits": [
    {"key": "openai", "max_in_flight": 50,
     "rates": [{"units": 500, "per": "1m", "measure": "requests"},
               {"units": 90000, "per": "minute", "burst": 90000}],
     "units_header": "x-usage-tokens"},
    {"key": "tenant:42", "max_in_flight": 4}
  ]
}
)";

std::vector<LimitSpec> ExampleSpecs() {
  LimitSpec openai{"openai",
                   50,
                   {{500, minutes(1), std::nullopt, RateMeasure::kRequests},
                    {90000, minutes(1), 90000, RateMeasure::kUnits}},
                   "x-usage-tokens"};
  return {openai, LimitSpec{"tenant:42", 4, {}}};
}

// The message of parsing `text` as limits.json, which must fail with INVALID_ARGUMENT.
std::string Error(std::string_view text) {
  absl::StatusOr<std::vector<LimitSpec>> specs = ParseLimitsText(text, "limits.json");
  if (specs.ok()) return "(parsed)";
  EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument) << specs.status();
  return std::string(specs.status().message());
}

// One entry in a file, on line 1 from column 13.
std::string EntryError(const std::string& entry) { return Error(R"({"limits": [)" + entry + "]}"); }

TEST(ParseLimitsTextTest, ParsesTheExample) {
  absl::StatusOr<std::vector<LimitSpec>> specs = ParseLimitsText(kExample, "limits.json");
  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_EQ(*specs, ExampleSpecs());
}

TEST(ParseLimitsTextTest, TheDeployedExampleFileIsTheExample) {
  absl::StatusOr<std::vector<LimitSpec>> specs =
      LoadLimitsFile(std::string(BATCHD_SOURCE_DIR) + "/deploy/limits.example.json");
  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_EQ(*specs, ExampleSpecs());
}

TEST(ParseLimitsTextTest, AcceptsAnEmptyListAndWholeNumbersWrittenAsDecimals) {
  absl::StatusOr<std::vector<LimitSpec>> empty = ParseLimitsText(R"({"limits": []})", "f");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  absl::StatusOr<std::vector<LimitSpec>> specs = ParseLimitsText(
      R"({"limits": [{"key": "a", "max_in_flight": 5.0,
                      "rates": [{"units": 1e3, "per": "1s"}]}]})",
      "f");
  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_EQ(specs->at(0).max_in_flight, 5);
  EXPECT_EQ(specs->at(0).rates.at(0).units, 1000);
}

TEST(ParseLimitsTextTest, PeriodsAreNamedUnitsOrDurations) {
  const std::pair<const char*, Duration> cases[] = {
      {"second", seconds(1)},       {"minute", minutes(1)},
      {"hour", hours(1)},           {"1s", seconds(1)},
      {"250ms", milliseconds(250)}, {"1.5s", milliseconds(1500)},
      {"1m", minutes(1)},           {"1h", hours(1)},
      {"2h30m", minutes(150)},      {"100us", microseconds(100)},
      {"10ns", nanoseconds(10)},    {"8784h", hours(8784)},
  };
  for (const auto& [per, period] : cases) {
    absl::StatusOr<std::vector<LimitSpec>> specs =
        ParseLimitsText(absl::StrCat(R"({"limits": [{"key": "a", "rates": [{"units": 1, "per": ")",
                                     per, R"("}]}]})"),
                        "f");
    ASSERT_TRUE(specs.ok()) << per << ": " << specs.status();
    EXPECT_EQ(specs->at(0).rates.at(0).period, period) << per;
  }
}

TEST(ParseLimitsTextTest, SyntaxErrorsSayWhereTheParserStopped) {
  EXPECT_EQ(Error("{\"limits\": [\n  {\"key\": \"a\",}\n]}"),
            "limits.json:2:15: invalid JSON: syntax error");
  EXPECT_EQ(Error(R"({"limits": [)"), "limits.json:1:13: invalid JSON: incomplete JSON");
  EXPECT_EQ(Error(""), "limits.json:1:1: invalid JSON: incomplete JSON");
  EXPECT_EQ(Error("{\"limits\": []}\n// no comments\n"),
            "limits.json:2:1: invalid JSON: extra data");
}

TEST(ParseLimitsTextTest, TheFileIsAnObjectWithOnlyALimitsList) {
  EXPECT_EQ(Error("[]"),
            R"(limits.json:1:1: the file must be a JSON object {"limits": [...]}, got array)");
  EXPECT_EQ(Error("{}"), R"(limits.json:1:1: missing field "limits")");
  EXPECT_EQ(Error(R"({"limit": []})"),
            R"(limits.json:1:2: unknown field "limit" (known fields: limits))");
  EXPECT_EQ(Error(R"({"limits": {}})"), "limits.json:1:12: limits must be an array, got object");
  EXPECT_EQ(Error(R"({"limits": [], "limits": []})"),
            "limits.json:1:16: limits: field given twice");
}

TEST(ParseLimitsTextTest, EntriesAreObjectsWithAKeyAndOnlyKnownFields) {
  EXPECT_EQ(EntryError(R"("openai")"), "limits.json:1:13: limits[0] must be an object, got string");
  EXPECT_EQ(EntryError(R"({"max_in_flight": 5})"),
            R"(limits.json:1:13: limits[0]: missing field "key")");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_inflight": 5})"),
            "limits.json:1:26: limits[0]: unknown field \"max_inflight\" (known fields: key, "
            "max_in_flight, rates, units_header)");
  EXPECT_EQ(EntryError(R"({"key": "a", "ma\nx": 5})"),
            R"(limits.json:1:26: limits[0]: unknown field "ma\nx" (known fields: key, )"
            "max_in_flight, rates, units_header)");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": 1, "key": "b"})"),
            "limits.json:1:46: limits[0].key: field given twice");
}

TEST(ParseLimitsTextTest, WrongTypesAreNamed) {
  EXPECT_EQ(EntryError(R"({"key": 7, "max_in_flight": 1})"),
            "limits.json:1:21: limits[0].key must be a string, got number");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": "50"})"),
            "limits.json:1:43: limits[0].max_in_flight must be an integer, got string");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": 1.5})"),
            "limits.json:1:43: limits[0].max_in_flight must be an integer, got 1.5");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": 18446744073709551615})"),
            "limits.json:1:43: limits[0].max_in_flight must be a 64-bit integer, got "
            "18446744073709551615");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": null})"),
            "limits.json:1:43: limits[0].max_in_flight must be an integer, got null");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": {"units": 1}})"),
            "limits.json:1:35: limits[0].rates must be an array, got object");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [5]})"),
            "limits.json:1:36: limits[0].rates[0] must be an object, got number");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": 1, "units_header": 1})"),
            "limits.json:1:62: limits[0].units_header must be a string, got number");
}

TEST(ParseLimitsTextTest, RatesNeedUnitsAndAKnownPeriodAndMeasure) {
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"per": "1s"}]})"),
            R"(limits.json:1:36: limits[0].rates[0]: missing field "units")");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 5}]})"),
            R"(limits.json:1:36: limits[0].rates[0]: missing field "per")");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 5, "per": "1s", "burts": 9}]})"),
            "limits.json:1:62: limits[0].rates[0]: unknown field \"burts\" (known fields: units, "
            "per, burst, measure)");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 5, "per": "fortnight"}]})"),
            "limits.json:1:56: limits[0].rates[0].per: unknown period \"fortnight\" (use second, "
            "minute, hour or a duration such as 250ms, 1m)");
  EXPECT_THAT(
      EntryError(R"({"key": "a", "rates": [{"units": 5, "per": "inf"}]})"),
      ::testing::StartsWith(R"(limits.json:1:56: limits[0].rates[0].per: unknown period "inf" )"));
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 5, "per": 60}]})"),
            "limits.json:1:56: limits[0].rates[0].per must be a string, got number");
  EXPECT_EQ(
      EntryError(R"({"key": "a", "rates": [{"units": 5, "per": "1s", "measure": "tokens"}]})"),
      "limits.json:1:73: limits[0].rates[0].measure: unknown measure \"tokens\" (use units "
      "or requests)");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 5, "per": "1s", "burst": "9"}]})"),
            "limits.json:1:71: limits[0].rates[0].burst must be an integer, got string");
}

TEST(ParseLimitsTextTest, ValidationErrorsNameTheEntryAndPointAtTheField) {
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 0, "per": "1s"}]})"),
            "limits.json:1:46: limits[0]: Limit 'a': rates[0].units must be at least 1, got 0");
  EXPECT_EQ(EntryError(R"({"key": "a", "rates": [{"units": 1, "per": "0s"}]})"),
            "limits.json:1:56: limits[0]: Limit 'a': rates[0].period must be positive, got 0");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": 0, "rates": [{"units": 0, "per": "1s"}]})"),
            "limits.json:1:43: limits[0]: Limit 'a': max_in_flight must be at least 1, got 0 (and "
            "1 more)");
  EXPECT_EQ(EntryError(R"({"key": "idle"})"),
            "limits.json:1:13: limits[0]: Limit 'idle' has neither max_in_flight nor a rate");
  EXPECT_EQ(EntryError(R"({"key": "a", "max_in_flight": 1, "units_header": "x tokens"})"),
            "limits.json:1:62: limits[0]: Limit 'a': units_header 'x tokens' is not a valid HTTP "
            "header name");
  EXPECT_EQ(Error("{\"limits\": [\n  {\"key\": \"a\", \"max_in_flight\": 1},\n"
                  "  {\"key\": \"\", \"max_in_flight\": 1}\n]}"),
            "limits.json:3:11: limits[1]: Limit key must not be empty");
}

TEST(ParseLimitsTextTest, ADuplicateKeyNamesBothEntries) {
  EXPECT_EQ(Error(R"({"limits": [
  {"key": "a", "max_in_flight": 1},
  {"key": "b", "max_in_flight": 1},
  {"key": "a", "max_in_flight": 2}
]})"),
            R"(limits.json:4:11: limits[2].key: duplicate key "a", also limits[0] (line 2))");
}

TEST(ParseLimitsTextTest, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(EntryError(R"({"key": "café", "max_in_flight": "x"})"),
            "limits.json:1:46: limits[0].max_in_flight must be an integer, got string");
}

class LoadLimitsFileTest : public ::testing::Test {
 protected:
  LoadLimitsFileTest() {
    std::string pattern = ::testing::TempDir() + "limits-XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
  }
  ~LoadLimitsFileTest() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

TEST_F(LoadLimitsFileTest, ErrorsNameThePath) {
  const std::string missing = dir_ + "/none.json";
  absl::StatusOr<std::vector<LimitSpec>> specs = LoadLimitsFile(missing);
  EXPECT_EQ(specs.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(specs.status().message(),
            "cannot open limits file '" + missing + "': No such file or directory");

  specs = LoadLimitsFile(dir_);  // a directory opens but does not read
  EXPECT_EQ(specs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(specs.status().message(), "cannot read limits file '" + dir_ + "': Is a directory");

  const std::string bad = dir_ + "/bad.json";
  std::ofstream(bad) << "{\"limits\": [\n  {\"key\": \"a\"}\n]}\n";
  specs = LoadLimitsFile(bad);
  EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(specs.status().message(),
            bad + ":2:3: limits[0]: Limit 'a' has neither max_in_flight nor a rate");
}

TEST(LimitSpecJsonTest, WritesTheFilesShapeLeavingOutWhatIsNotSet) {
  EXPECT_EQ(boost::json::serialize(LimitSpecToJson(ExampleSpecs()[0])),
            R"({"key":"openai","max_in_flight":50,"rates":[{"units":500,"per":"1m",)"
            R"("measure":"requests"},{"units":90000,"per":"1m","burst":90000}],)"
            R"("units_header":"x-usage-tokens"})");
  EXPECT_EQ(boost::json::serialize(LimitSpecToJson(ExampleSpecs()[1])),
            R"({"key":"tenant:42","max_in_flight":4})");
}

TEST(LimitSpecJsonTest, RoundTripsExactlyWithPeriodsInTheLargestUnitThatDividesThem) {
  const std::pair<Duration, const char*> periods[] = {
      {hours(2), "2h"},
      {minutes(150), "150m"},
      {seconds(90), "90s"},
      {milliseconds(1500), "1500ms"},
      {microseconds(1001), "1001us"},
      {nanoseconds(123), "123ns"},
      {hours(8784), "8784h"},
      {nanoseconds(3'600'000'000'001), "3600000000001ns"},
  };
  for (const auto& [period, text] : periods) {
    LimitSpec spec{"k", std::nullopt, {{7, period, 3, RateMeasure::kRequests}}};
    const boost::json::value json = LimitSpecToJson(spec);
    EXPECT_EQ(json.at("rates").at(0).at("per"), text);
    absl::StatusOr<LimitSpec> back = LimitSpecFromJson(json);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, spec) << text;
  }
  for (const LimitSpec& spec : ExampleSpecs()) {
    absl::StatusOr<LimitSpec> back = LimitSpecFromJson(LimitSpecToJson(spec));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, spec);
  }
}

TEST(LimitSpecJsonTest, FromJsonNamesTheFieldInItsMessageAndViolation) {
  absl::Status status =
      LimitSpecFromJson(boost::json::parse(R"({"key": "a", "rates": [{"units": 1, "per": "x"}]})"))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::string message =
      "rates[0].per: unknown period \"x\" (use second, minute, hour or a duration such as 250ms, "
      "1m)";
  EXPECT_EQ(status.message(), message);
  EXPECT_THAT(FieldViolationsOf(status), ElementsAre(FieldViolation{"rates[0].per", message}));

  status = LimitSpecFromJson(boost::json::parse(R"({"key": "a", "max": 1})")).status();
  EXPECT_EQ(status.message(),
            R"(unknown field "max" (known fields: key, max_in_flight, rates, units_header))");
  EXPECT_THAT(FieldViolationsOf(status),
              ElementsAre(FieldViolation{"max", std::string(status.message())}));

  EXPECT_EQ(LimitSpecFromJson(boost::json::parse("[]")).status().message(),
            "a limit must be an object, got array");
  EXPECT_EQ(LimitSpecFromJson(boost::json::parse(R"({"max_in_flight": 1})")).status().message(),
            R"(missing field "key")");
  // What Validate refuses, as Validate says it.
  status = LimitSpecFromJson(boost::json::parse(R"({"key": "a", "max_in_flight": 0})")).status();
  EXPECT_EQ(status.message(), "Limit 'a': max_in_flight must be at least 1, got 0");
  EXPECT_THAT(FieldViolationsOf(status),
              ElementsAre(FieldViolation{"max_in_flight", std::string(status.message())}));
}

}  // namespace
}  // namespace batchd::core
