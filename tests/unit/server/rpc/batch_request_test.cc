// BatchSpecFromRequest: the edge's checks (limits, enums) and core's, in one answer in input
// order; and core's idea of input order (core::FieldPathBefore) against the .proto.
#include "server/rpc/batch_request.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "batchd/v1/batch.pb.h"
#include "batchd/v1/batch_service.pb.h"
#include "core/executors/executor.h"
#include "core/executors/executor_registry.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::batchd::core::FieldViolation;
using ::testing::ElementsAre;
using ::testing::SizeIs;

class NullExecutor final : public core::Executor {
 public:
  void Start(const core::ExecutionRequest&, core::CompletionSink&) override {}
  void Cancel(const core::AttemptToken&) override {}
};

class BatchRequestTest : public ::testing::Test {
 protected:
  BatchRequestTest() {
    EXPECT_TRUE(registry_.Register({"echo", "builtin"}, std::make_unique<NullExecutor>()).ok());
    limits_.max_task_input_bytes = 16;
  }

  absl::Status Check(const v1::SubmitBatchRequest& request) {
    return BatchSpecFromRequest(request, limits_, registry_).status();
  }

  core::ExecutorRegistry registry_;
  RequestLimits limits_;
};

v1::Task* AddTask(v1::SubmitBatchRequest& request, const std::string& id,
                  const std::string& executor = "echo") {
  v1::Task* task = request.add_tasks();
  task->set_id(id);
  task->set_executor(executor);
  return task;
}

TEST_F(BatchRequestTest, ValidRequestGivesTheSpec) {
  v1::SubmitBatchRequest request;
  AddTask(request, "a");
  absl::StatusOr<core::BatchSpec> spec = BatchSpecFromRequest(request, limits_, registry_);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->tasks, SizeIs(1));
}

TEST_F(BatchRequestTest, EdgeAndCoreViolationsComeTogetherInInputOrder) {
  v1::SubmitBatchRequest request;
  AddTask(request, "a")->mutable_input()->set_string_value(std::string(64, 'x'));
  v1::Task* b = AddTask(request, "b", "nope");
  b->add_dependencies("ghost");
  b->mutable_retry_policy()->set_kind(static_cast<v1::RetryKind>(42));
  b->mutable_retry_policy()->set_multiplier(-2);
  request.mutable_options()->set_max_concurrent(0);
  request.mutable_options()->set_aggregation(static_cast<v1::Aggregation>(99));
  (*request.mutable_labels())["big"] = std::string(5000, 'v');

  const absl::Status status = Check(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "Input of task 'a' is 66 bytes; the limit is 16 (--max-task-input-bytes) (and 7 more)");
  EXPECT_THAT(
      core::FieldViolationsOf(status),
      ElementsAre(
          FieldViolation{"tasks[0].input",
                         "Input of task 'a' is 66 bytes; the limit is 16 (--max-task-input-bytes)"},
          FieldViolation{"tasks[1].executor", "Unknown executor 'nope' of task 'b' (known: echo)"},
          FieldViolation{"tasks[1].dependencies[0]", "Unknown dependency 'ghost' of task 'b'"},
          FieldViolation{"tasks[1].retry_policy.kind",
                         "tasks[1].retry_policy.kind: unknown value 42"},
          FieldViolation{"tasks[1].retry_policy.multiplier",
                         "Retry multiplier must be a finite number >= 0"},
          FieldViolation{"options.max_concurrent", "max_concurrent must be greater than 0"},
          FieldViolation{"options.aggregation", "options.aggregation: unknown value 99"},
          FieldViolation{"labels[big]",
                         "Label 'big' has a value of 5000 bytes; the limit is 4096"}));
}

TEST_F(BatchRequestTest, WaitForWorkersAcceptsAnyExecutorWhileListingOtherViolations) {
  v1::SubmitBatchRequest request;
  AddTask(request, "a", "later.worker");
  request.mutable_options()->set_wait_for_workers(true);
  request.mutable_options()->set_load_balancer(static_cast<v1::LoadBalancer>(-1));

  const absl::Status status = Check(request);
  EXPECT_THAT(core::FieldViolationsOf(status),
              ElementsAre(FieldViolation{"options.load_balancer",
                                         "options.load_balancer: unknown value -1"}));
  EXPECT_EQ(registry_.Find("later.worker"), nullptr);  // nothing made for a refused request
}

TEST_F(BatchRequestTest, OverTheCapTheMessageCountsEveryViolation) {
  v1::SubmitBatchRequest request;
  for (int i = 0; i < 120; ++i) {
    AddTask(request, absl::StrCat("t", i))->mutable_input()->set_string_value(std::string(32, 'x'));
  }
  for (int i = 0; i < 30; ++i) AddTask(request, absl::StrCat("u", i), "nope");

  const absl::Status status = Check(request);
  EXPECT_EQ(status.message(),
            "Input of task 't0' is 34 bytes; the limit is 16 (--max-task-input-bytes) "
            "(and 149 more)");
  const std::vector<FieldViolation> listed = core::FieldViolationsOf(status);
  ASSERT_THAT(listed, SizeIs(core::kMaxFieldViolations));
  EXPECT_EQ(listed.back().field, "tasks[99].input");
  EXPECT_EQ(core::FieldViolationCountOf(status), 150u);
}

TEST_F(BatchRequestTest, TooManyLimitsAreRefusedNamingTheTaskAndTheOptions) {
  v1::SubmitBatchRequest request;
  AddTask(request, "a");
  v1::Task* b = AddTask(request, "b");
  for (size_t i = 0; i <= kMaxTaskLimits; ++i) b->add_limits()->set_key(absl::StrCat("k", i));
  for (size_t i = 0; i <= kMaxDefaultLimits; ++i) {
    request.mutable_options()->add_default_limits()->set_key(absl::StrCat("d", i));
  }

  const absl::Status status = Check(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Task 'b' names 17 limits; the limit is 16 (and 1 more)");
  EXPECT_THAT(
      core::FieldViolationsOf(status),
      ElementsAre(FieldViolation{"tasks[1].limits", "Task 'b' names 17 limits; the limit is 16"},
                  FieldViolation{"options.default_limits",
                                 "Batch names 17 default limits; the limit is 16"}));
}

TEST_F(BatchRequestTest, LimitViolationsComeInInputOrder) {
  v1::SubmitBatchRequest request;
  v1::Task* a = AddTask(request, "a");
  v1::LimitUse* negative = a->add_limits();
  negative->set_key("openai");
  negative->set_units(-3);
  a->add_limits()->set_key("");
  a->mutable_retry_policy()->set_kind(static_cast<v1::RetryKind>(42));
  request.mutable_options()->add_default_limits()->set_key("openai");
  request.mutable_options()->add_default_limits()->set_key("openai");

  const absl::Status status = Check(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      core::FieldViolationsOf(status),
      ElementsAre(
          FieldViolation{"tasks[0].retry_policy.kind",
                         "tasks[0].retry_policy.kind: unknown value 42"},
          FieldViolation{"tasks[0].limits[0].units",
                         "tasks[0].limits[0].units: units of limit 'openai' must not be "
                         "negative, got -3"},
          FieldViolation{"tasks[0].limits[1].key", "Limit key of task 'a' must not be empty"},
          FieldViolation{"options.default_limits[1].key",
                         "Limit 'openai' is named twice by the batch's default_limits"}));
}

TEST_F(BatchRequestTest, TooManyTasksIsReportedAlone) {
  limits_.max_batch_tasks = 2;
  v1::SubmitBatchRequest request;
  for (const char* id : {"", "", ""}) AddTask(request, id);
  request.mutable_options()->set_max_concurrent(0);

  const absl::Status status = Check(request);
  EXPECT_EQ(status.message(), "Batch has 3 tasks; the limit is 2 (--max-batch-tasks)");
  EXPECT_THAT(core::FieldViolationsOf(status), SizeIs(1));
}

// core::FieldPathBefore spells out the request's field numbers; they must be the .proto's.
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

TEST(FieldPathOrderTest, MatchesTheProtoFieldNumbers) {
  ExpectFieldsInNumberOrder(*v1::SubmitBatchRequest::descriptor(), "");
  ExpectFieldsInNumberOrder(*v1::ProcessBatchRequest::descriptor(), "");
  ExpectFieldsInNumberOrder(*v1::Task::descriptor(), "tasks[0].");
  ExpectFieldsInNumberOrder(*v1::BatchOptions::descriptor(), "options.");
  ExpectFieldsInNumberOrder(*v1::RetryPolicy::descriptor(), "options.retry_policy.");
  ExpectFieldsInNumberOrder(*v1::RetryPolicy::descriptor(), "tasks[3].retry_policy.");
  ExpectFieldsInNumberOrder(*v1::LimitUse::descriptor(), "tasks[2].limits[1].");
  ExpectFieldsInNumberOrder(*v1::LimitUse::descriptor(), "options.default_limits[0].");
}

}  // namespace
}  // namespace batchd::server
