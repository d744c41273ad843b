#include "client/cpp/batch_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;
using ::testing::HasSubstr;

// --- batch files -------------------------------------------------------------------------

class BatchFileTest : public ::testing::Test {
 protected:
  static std::string WriteFile(const std::string& name, absl::string_view contents) {
    std::string path = ::testing::TempDir() + "/batch_file_test_" + name;
    std::ofstream(path) << contents;
    return path;
  }

  std::istringstream no_stdin_;
};

constexpr absl::string_view kValidBatch = R"({
  "requestId": "r1",
  "tasks": [
    {"id": "a", "executor": "sleep", "input": {"ms": 100}},
    {"id": "b", "dependencies": ["a"], "timeoutMs": 500}
  ],
  "options": {"maxConcurrent": 2, "aggregation": "AGGREGATION_ORDERED"},
  "labels": {"env": "test"}
})";

TEST_F(BatchFileTest, LoadsValidFile) {
  absl::StatusOr<v1::SubmitBatchRequest> batch =
      LoadBatchFile(WriteFile("valid.json", kValidBatch), no_stdin_);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->request_id(), "r1");
  ASSERT_EQ(batch->tasks_size(), 2);
  EXPECT_EQ(batch->tasks(0).input().struct_value().fields().at("ms").number_value(), 100);
  EXPECT_EQ(batch->tasks(1).dependencies(0), "a");
  EXPECT_EQ(batch->tasks(1).timeout_ms(), 500U);
  EXPECT_EQ(batch->options().max_concurrent(), 2U);
  EXPECT_EQ(batch->options().aggregation(), v1::AGGREGATION_ORDERED);
  EXPECT_EQ(batch->labels().at("env"), "test");
}

TEST_F(BatchFileTest, LoadsSharedLimits) {
  constexpr absl::string_view kLimited = R"({
    "tasks": [{"id": "a", "limits": [{"key": "openai", "units": 1200}, {"key": "tenant:42"}]}],
    "options": {"defaultLimits": [{"key": "db"}], "allowUnknownLimits": true,
                "queueTimeoutMs": 5000}
  })";
  absl::StatusOr<v1::SubmitBatchRequest> batch =
      LoadBatchFile(WriteFile("limited.json", kLimited), no_stdin_);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->tasks(0).limits_size(), 2);
  EXPECT_EQ(batch->tasks(0).limits(0).key(), "openai");
  EXPECT_EQ(batch->tasks(0).limits(0).units(), 1200);
  EXPECT_EQ(batch->tasks(0).limits(1).units(), 0) << "0 means 1 to the daemon";
  EXPECT_EQ(batch->options().default_limits(0).key(), "db");
  EXPECT_TRUE(batch->options().allow_unknown_limits());
  EXPECT_EQ(batch->options().queue_timeout_ms(), 5000u);
}

TEST_F(BatchFileTest, DashReadsStdin) {
  std::istringstream in{std::string(kValidBatch)};
  absl::StatusOr<v1::SubmitBatchRequest> batch = LoadBatchFile("-", in);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->tasks_size(), 2);
}

TEST_F(BatchFileTest, BadJsonCarriesParserMessage) {
  std::istringstream in(R"({"tasks": [{"id": "a", "executor": 5x}]})");
  absl::StatusOr<v1::SubmitBatchRequest> batch = LoadBatchFile("-", in);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batch.status().message(),
            "<stdin>: invalid batch JSON: Unable to parse number.\n"
            "  \": \"a\", \"executor\": 5x}]}\n"
            "                      ^");
}

TEST_F(BatchFileTest, UnknownFieldIsRejected) {
  absl::StatusOr<v1::SubmitBatchRequest> batch = LoadBatchFile(
      WriteFile("unknown.json", R"({"tasks": [{"id": "a", "retries": 3}]})"), no_stdin_);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batch.status().message(), HasSubstr("unknown.json: invalid batch JSON: "));
  EXPECT_THAT(batch.status().message(), HasSubstr("(tasks[0]) retries: Cannot find field."));
}

TEST_F(BatchFileTest, MissingFileIsNotFound) {
  const std::string path = ::testing::TempDir() + "/batch_file_test_does_not_exist.json";
  absl::StatusOr<v1::SubmitBatchRequest> batch = LoadBatchFile(path, no_stdin_);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(batch.status().message(),
            "cannot open batch file '" + path + "': No such file or directory");
}

TEST_F(BatchFileTest, DirectoryIsRejected) {
  absl::StatusOr<v1::SubmitBatchRequest> batch = LoadBatchFile(::testing::TempDir(), no_stdin_);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batch.status().message(), HasSubstr("is a directory"));
}

TEST_F(BatchFileTest, EmptyInputIsInvalid) {
  std::istringstream in("");
  EXPECT_EQ(LoadBatchFile("-", in).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchRequestsTest, ProcessAndResolveRequestsCarryTheBatch) {
  absl::StatusOr<v1::SubmitBatchRequest> batch = ParseBatchJson(kValidBatch, "test");
  ASSERT_TRUE(batch.ok()) << batch.status();
  const v1::ProcessBatchRequest process = ToProcessBatchRequest(*batch);
  EXPECT_EQ(process.request_id(), "r1");
  EXPECT_EQ(process.tasks_size(), 2);
  EXPECT_EQ(process.options().max_concurrent(), 2U);
  EXPECT_EQ(process.labels().at("env"), "test");
  EXPECT_EQ(ToResolveRequest(*batch).tasks(1).id(), "b");
}

}  // namespace
}  // namespace batchd::client
