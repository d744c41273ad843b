// Validation through the real daemon: a refused SubmitBatch / ProcessBatch lists every
// violation the daemon can find in one answer, in input order (the .proto's field order: tasks
// in task order, then options, then labels), in google.rpc.BadRequest details, with the
// message counting all of them.
#include <grpcpp/client_context.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::testing::ElementsAreArray;
using ::testing::SizeIs;

constexpr std::chrono::seconds kCallTimeout{30};

struct Violation {
  std::string field;
  std::string description;
  bool operator==(const Violation&) const = default;
  friend std::ostream& operator<<(std::ostream& out, const Violation& v) {
    return out << "{" << v.field << ": " << v.description << "}";
  }
};

std::vector<Violation> ViolationsOf(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  EXPECT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  std::vector<Violation> out;
  if (details.details_size() != 1 || !details.details(0).UnpackTo(&bad_request)) return out;
  for (const auto& v : bad_request.field_violations()) out.push_back({v.field(), v.description()});
  return out;
}

template <typename Request>
v1::Task* AddTask(Request& request, const std::string& id, const std::string& executor = "echo",
                  std::vector<std::string> dependencies = {}) {
  v1::Task* task = request.add_tasks();
  task->set_id(id);
  task->set_executor(executor);
  for (std::string& d : dependencies) task->add_dependencies(std::move(d));
  return task;
}

class ValidationTest : public testing::DaemonTestBase {
 protected:
  std::vector<std::string> DaemonFlags() const override { return {"--max-task-input-bytes=16"}; }

  grpc::Status Submit(const v1::SubmitBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::SubmitBatchResponse response;
    return batches_->SubmitBatch(&context, request, &response);
  }
  grpc::Status Process(const v1::ProcessBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    return batches_->ProcessBatch(&context, request, &response);
  }

  // The description of an unknown executor, with the daemon's executors as ListExecutors
  // names them.
  std::string UnknownExecutor(const std::string& executor, const std::string& task) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ListExecutorsResponse response;
    EXPECT_TRUE(batches_->ListExecutors(&context, v1::ListExecutorsRequest(), &response).ok());
    std::vector<std::string> names;
    for (const auto& e : response.executors()) names.push_back(e.name());
    return absl::StrCat("Unknown executor '", executor, "' of task '", task,
                        "' (known: ", absl::StrJoin(names, ", "), ")");
  }
};

TEST_F(ValidationTest, MaxConcurrentZeroIsReportedWithTheTaskViolations) {
  v1::SubmitBatchRequest request;
  AddTask(request, "a", "nope");
  AddTask(request, "", "echo", {"a"});
  request.mutable_options()->set_max_concurrent(0);

  const grpc::Status status = Submit(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), UnknownExecutor("nope", "a") + " (and 2 more)");
  EXPECT_THAT(ViolationsOf(status),
              ElementsAreArray(std::vector<Violation>{
                  {"tasks[0].executor", UnknownExecutor("nope", "a")},
                  {"tasks[1].id", "Task at index 1 has an empty id"},
                  {"options.max_concurrent", "max_concurrent must be greater than 0"},
              }));
}

TEST_F(ValidationTest, EmptyIdUnknownExecutorDuplicateIdAndUnknownDependencyAreAllReported) {
  v1::ProcessBatchRequest request;
  AddTask(request, "");
  AddTask(request, "b", "ghost.exec");
  AddTask(request, "b");
  AddTask(request, "c", "echo", {"missing"});

  const grpc::Status status = Process(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Task at index 0 has an empty id (and 3 more)");
  EXPECT_THAT(ViolationsOf(status),
              ElementsAreArray(std::vector<Violation>{
                  {"tasks[0].id", "Task at index 0 has an empty id"},
                  {"tasks[1].executor", UnknownExecutor("ghost.exec", "b")},
                  {"tasks[2].id", "Duplicate task id 'b'"},
                  {"tasks[3].dependencies[0]", "Unknown dependency 'missing' of task 'c'"},
              }));
}

TEST_F(ValidationTest, EdgeLimitsEnumsAndCoreRulesInOneAnswer) {
  v1::SubmitBatchRequest request;
  AddTask(request, "a")->mutable_input()->set_string_value(std::string(64, 'x'));
  v1::Task* b = AddTask(request, "b", "nope", {"a"});
  b->mutable_retry_policy()->set_jitter(static_cast<v1::Jitter>(9));
  b->mutable_retry_policy()->set_multiplier(-1);
  AddTask(request, "c", "echo", {"c"});
  request.mutable_options()->set_timeout_ms(0);
  request.mutable_options()->set_on_dependency_failure(static_cast<v1::DependencyFailure>(7));
  (*request.mutable_labels())["team"] = std::string(5000, 'v');

  const grpc::Status status = Submit(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::string input =
      "Input of task 'a' is 66 bytes; the limit is 16 (--max-task-input-bytes)";
  EXPECT_EQ(status.error_message(), input + " (and 7 more)");
  EXPECT_THAT(
      ViolationsOf(status),
      ElementsAreArray(std::vector<Violation>{
          {"tasks[0].input", input},
          {"tasks[1].executor", UnknownExecutor("nope", "b")},
          {"tasks[1].retry_policy.multiplier", "Retry multiplier must be a finite number >= 0"},
          {"tasks[1].retry_policy.jitter", "tasks[1].retry_policy.jitter: unknown value 9"},
          {"tasks[2].dependencies[0]", "Task 'c' depends on itself"},
          {"options.timeout_ms", "timeout_ms must be greater than 0"},
          {"options.on_dependency_failure", "options.on_dependency_failure: unknown value 7"},
          {"labels[team]", "Label 'team' has a value of 5000 bytes; the limit is 4096"},
      }));
}

// More violations than the cap of 100: the message counts every one. The details list them in
// order until the status's byte budget for details (2 KiB, so that the error fits in gRPC's
// trailers) is spent; the message already counts those left out.
TEST_F(ValidationTest, MoreViolationsThanTheCapAreCountedInTheMessage) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 150; ++i) {
    AddTask(request, absl::StrCat("t", i), "echo", {absl::StrCat("g", i)});
  }
  request.mutable_options()->set_max_concurrent(0);

  const grpc::Status status = Submit(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Unknown dependency 'g0' of task 't0' (and 150 more)");
  const std::vector<Violation> violations = ViolationsOf(status);
  ASSERT_THAT(violations, ::testing::Not(::testing::IsEmpty()));
  EXPECT_LE(violations.size(), 100u);
  for (size_t i = 0; i < violations.size(); ++i) {
    EXPECT_EQ(violations[i],
              (Violation{absl::StrCat("tasks[", i, "].dependencies[0]"),
                         absl::StrCat("Unknown dependency 'g", i, "' of task 't", i, "'")}));
  }
}

TEST_F(ValidationTest, ACycleIsReportedBesideOtherViolationsOnceTheGraphIsSound) {
  v1::ProcessBatchRequest request;
  AddTask(request, "a", "echo", {"b"});
  AddTask(request, "b", "nope", {"a"});
  request.mutable_options()->set_max_concurrent(0);

  const grpc::Status status = Process(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolationsOf(status),
              ElementsAreArray(std::vector<Violation>{
                  {"tasks[1].executor", UnknownExecutor("nope", "b")},
                  {"tasks[1].dependencies[0]", "Circular dependency: a -> b -> a"},
                  {"options.max_concurrent", "max_concurrent must be greater than 0"},
              }));
}

}  // namespace
}  // namespace batchd
