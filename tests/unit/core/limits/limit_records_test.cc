// Run-time limit records: encoded and decoded through the file's JSON form, and applied over
// the limits file -- sets replace or add, tombstones remove, bad records are reported by key.
#include "core/limits/limit_records.h"

#include <chrono>

#include "core/limits/limit_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

LimitSpec Concurrency(std::string key, int64_t n) { return LimitSpec{std::move(key), n, {}}; }

TEST(LimitRecordsTest, ASetRecordIsTheSpecsJsonAndADeletionIsATombstone) {
  const LimitSpec spec{"openai", 5, {{500, minutes(1), std::nullopt}}, "x-usage"};
  EXPECT_EQ(LimitSetRecord(spec),
            (LimitRecord{"openai",
                         R"({"key":"openai","max_in_flight":5,"rates":[{"units":500,"per":"1m"}],)"
                         R"("units_header":"x-usage"})"}));
  EXPECT_EQ(LimitDeletedRecord("openai"), (LimitRecord{"openai", ""}));
}

TEST(LimitRecordsTest, SetsReplaceInPlaceOrAddAfterTheFilesAndTombstonesRemove) {
  const LimitSpec faster{"b", std::nullopt, {{20, milliseconds(250), 5, RateMeasure::kRequests}}};
  std::vector<std::string> problems;
  const std::vector<LimitSpec> limits =
      ApplyLimitRecords({Concurrency("a", 1), Concurrency("b", 2), Concurrency("c", 3)},
                        {LimitDeletedRecord("a"), LimitSetRecord(faster),
                         LimitSetRecord(Concurrency("new", 9)), LimitDeletedRecord("gone-anyway")},
                        &problems);
  EXPECT_THAT(limits, ElementsAre(faster, Concurrency("c", 3), Concurrency("new", 9)));
  EXPECT_THAT(problems, IsEmpty());
}

TEST(LimitRecordsTest, LaterRecordsOfAKeyWin) {
  const std::vector<LimitSpec> limits =
      ApplyLimitRecords({Concurrency("a", 1)},
                        {LimitDeletedRecord("a"), LimitSetRecord(Concurrency("a", 7)),
                         LimitSetRecord(Concurrency("z", 1)), LimitDeletedRecord("z")},
                        nullptr);
  EXPECT_THAT(limits, ElementsAre(Concurrency("a", 7)));
}

TEST(LimitRecordsTest, ARecordThatDoesNotDecodeIsIgnoredAndReportedByKey) {
  std::vector<std::string> problems;
  const std::vector<LimitSpec> limits =
      ApplyLimitRecords({Concurrency("a", 1), Concurrency("b", 2)},
                        {{"a", "{not json"},
                         {"b", R"({"key": "b", "max_in_flight": 0})"},
                         {"c", R"({"key": "c", "max_in_flight": 1, "typo": 2})"},
                         {"d", R"({"key": "e", "max_in_flight": 1})"}},
                        &problems);
  EXPECT_THAT(limits, ElementsAre(Concurrency("a", 1), Concurrency("b", 2)));
  EXPECT_THAT(
      problems,
      ElementsAre(
          "run-time limit 'a': its journal record does not decode and is ignored: invalid "
          "JSON: syntax error",
          "run-time limit 'b': its journal record does not decode and is ignored: Limit 'b': "
          "max_in_flight must be at least 1, got 0",
          "run-time limit 'c': its journal record does not decode and is ignored: unknown field "
          "\"typo\" (known fields: key, max_in_flight, rates, units_header)",
          "run-time limit 'd': its journal record does not decode and is ignored: it holds the "
          "spec of 'e'"));
}

}  // namespace
}  // namespace batchd::core
