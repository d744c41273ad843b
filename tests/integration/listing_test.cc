// ListBatches and ListTasks through the real daemon: label selectors and state filters, pages
// that stay exact while batches are submitted between them, tasks with their state, layer,
// dependencies and waiting reason, and INVALID_ARGUMENT naming the offending field.
#include <grpcpp/client_context.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kCallTimeout{30};

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

// The fields the status' google.rpc.BadRequest names.
std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::BadRequest bad_request;
  std::vector<std::string> fields;
  if (!details.ParseFromString(status.error_details()) || details.details_size() != 1 ||
      !details.details(0).UnpackTo(&bad_request)) {
    ADD_FAILURE() << "no BadRequest in: " << status.error_message();
    return fields;
  }
  for (const auto& v : bad_request.field_violations()) fields.push_back(v.field());
  return fields;
}

v1::Task* AddTask(v1::SubmitBatchRequest& request, const std::string& id,
                  const std::string& executor, std::vector<std::string> deps = {}) {
  v1::Task* task = request.add_tasks();
  task->set_id(id);
  task->set_executor(executor);
  for (const std::string& d : deps) task->add_dependencies(d);
  return task;
}

void SetSleep(v1::Task* task, double ms) {
  (*task->mutable_input()->mutable_struct_value()->mutable_fields())["ms"].set_number_value(ms);
}

class ListingTest : public testing::DaemonTestBase {
 protected:
  std::string Submit(v1::SubmitBatchRequest request) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::SubmitBatchResponse response;
    const grpc::Status status = batches_->SubmitBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.batch_id();
  }
  // A batch of one task: echo (finishes at once) or a long sleep (runs until the test ends).
  std::string SubmitLabelled(std::map<std::string, std::string> labels, bool runs_long = false) {
    v1::SubmitBatchRequest request;
    v1::Task* task = AddTask(request, "t", runs_long ? "sleep" : "echo");
    if (runs_long) SetSleep(task, 600000);
    for (const auto& [k, v] : labels) (*request.mutable_labels())[k] = v;
    const std::string id = Submit(request);
    if (!runs_long) testing::WaitForBatchEnd(*batches_, id, absl::Seconds(30));
    return id;
  }
  grpc::Status List(const v1::ListBatchesRequest& request, v1::ListBatchesResponse* response) {
    grpc::ClientContext context;
    SetDeadline(context);
    return batches_->ListBatches(&context, request, response);
  }
  grpc::Status Tasks(const v1::ListTasksRequest& request, v1::ListTasksResponse* response) {
    grpc::ClientContext context;
    SetDeadline(context);
    return batches_->ListTasks(&context, request, response);
  }
  static std::vector<std::string> Ids(const v1::ListBatchesResponse& r) {
    std::vector<std::string> ids;
    for (const v1::BatchProgress& p : r.batches()) ids.push_back(p.batch_id());
    return ids;
  }
  static std::vector<std::string> Ids(const v1::ListTasksResponse& r) {
    std::vector<std::string> ids;
    for (const v1::TaskStatus& t : r.tasks()) ids.push_back(t.task_id());
    return ids;
  }
};

TEST_F(ListingTest, ListBatchesFiltersByLabelsAndStateAndPagesExactly) {
  const std::string p1 = SubmitLabelled({{"env", "prod"}, {"team", "ml"}});
  const std::string d1 = SubmitLabelled({{"env", "dev"}});
  const std::string p2 = SubmitLabelled({{"env", "prod"}});
  const std::string p3 = SubmitLabelled({{"env", "prod"}, {"team", "ml"}}, /*runs_long=*/true);
  const std::string none = SubmitLabelled({});

  v1::ListBatchesRequest request;
  request.set_label_selector("env=prod");
  v1::ListBatchesResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre(p3, p2, p1));  // newest first
  EXPECT_EQ(response.total_size(), 3u);
  EXPECT_EQ(response.next_page_token(), "");

  request.set_label_selector("team,env==prod");
  request.add_states(v1::BATCH_STATE_SUCCEEDED);
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre(p1));

  request.Clear();
  request.set_label_selector("!env");
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre(none));

  request.Clear();
  request.set_label_selector("env!=dev");
  request.add_states(v1::BATCH_STATE_RUNNING);
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre(p3));

  // Pages of two; a prod batch submitted between pages is neither repeated nor skipped.
  request.Clear();
  request.set_label_selector("env=prod");
  request.set_page_size(2);
  v1::ListBatchesResponse first;
  ASSERT_TRUE(List(request, &first).ok());
  EXPECT_THAT(Ids(first), ElementsAre(p3, p2));
  ASSERT_NE(first.next_page_token(), "");
  const std::string p4 = SubmitLabelled({{"env", "prod"}});
  request.set_page_token(first.next_page_token());
  v1::ListBatchesResponse second;
  ASSERT_TRUE(List(request, &second).ok());
  EXPECT_THAT(Ids(second), ElementsAre(p1));
  EXPECT_EQ(second.next_page_token(), "");
  EXPECT_EQ(second.total_size(), 4u);  // p4 counts: it is on a new first page
  request.clear_page_token();
  v1::ListBatchesResponse again;
  ASSERT_TRUE(List(request, &again).ok());
  EXPECT_THAT(Ids(again), ElementsAre(p4, p3));

  // limit still applies without page_size.
  request.Clear();
  request.set_limit(2);
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre(p4, none));
  EXPECT_EQ(response.total_size(), 6u);
  EXPECT_EQ(d1.empty(), false);
}

TEST_F(ListingTest, ListBatchesRefusesBadFieldsNamingThem) {
  struct Case {
    const char* name;
    v1::ListBatchesRequest request;
    const char* field;
    const char* message;
  };
  std::vector<Case> cases(4);
  cases[0] = {"page_size", {}, "page_size", "page_size 1001 is out of range (1 .. 1000)"};
  cases[0].request.set_page_size(1001);
  cases[1] = {"selector", {}, "label_selector", "Malformed label selector requirement"};
  cases[1].request.set_label_selector("env=prod,,team");
  cases[2] = {"token", {}, "page_token", "page_token is not a next_page_token"};
  cases[2].request.set_page_size(10);
  cases[2].request.set_page_token("garbage");
  cases[3] = {"state", {}, "states[0]", "states[0]: unknown value 42"};
  cases[3].request.add_states(static_cast<v1::BatchState>(42));
  for (const Case& c : cases) {
    v1::ListBatchesResponse response;
    const grpc::Status status = List(c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_THAT(ViolatedFields(status), ElementsAre(c.field)) << c.name;
  }
}

TEST_F(ListingTest, ListTasksShowsLiveStateLayersAndWaitingReasonsInPages) {
  v1::SubmitBatchRequest request;
  AddTask(request, "fetch", "echo");
  SetSleep(AddTask(request, "parse", "sleep", {"fetch"}), 600000);
  AddTask(request, "store", "echo", {"parse"});
  AddTask(request, "report", "echo", {"fetch", "parse", "store"});
  const std::string id = Submit(request);

  v1::ListTasksRequest list;
  list.set_batch_id(id);
  v1::ListTasksResponse response;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {  // until fetch is done and parse runs
    response.Clear();
    ASSERT_TRUE(Tasks(list, &response).ok());
    if (response.tasks_size() == 4 && response.tasks(1).state() == v1::TASK_STATE_RUNNING) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_THAT(Ids(response), ElementsAre("fetch", "parse", "store", "report"));
  EXPECT_EQ(response.batch_state(), v1::BATCH_STATE_RUNNING);
  EXPECT_EQ(response.total_size(), 4u);
  EXPECT_EQ(response.next_page_token(), "");

  const v1::TaskStatus& fetch = response.tasks(0);
  EXPECT_EQ(fetch.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(fetch.executor(), "echo");
  EXPECT_EQ(fetch.layer(), 0u);
  EXPECT_TRUE(fetch.has_finished_at());
  EXPECT_EQ(fetch.waiting_reason(), "");

  const v1::TaskStatus& parse = response.tasks(1);
  EXPECT_EQ(parse.state(), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(parse.layer(), 1u);
  EXPECT_TRUE(parse.has_started_at());
  EXPECT_FALSE(parse.has_finished_at());
  EXPECT_THAT(parse.dependencies(), ElementsAre("fetch"));

  const v1::TaskStatus& report = response.tasks(3);
  EXPECT_EQ(report.state(), v1::TASK_STATE_PENDING);
  EXPECT_EQ(report.layer(), 3u);
  EXPECT_THAT(report.dependencies(), ElementsAre("fetch", "parse", "store"));
  EXPECT_EQ(report.waiting_reason(), "waiting for 2 dependencies: parse, store");
  EXPECT_EQ(response.tasks(2).waiting_reason(), "waiting for 1 dependency: parse");

  // Only pending tasks, one per page.
  list.add_states(v1::TASK_STATE_PENDING);
  list.set_page_size(1);
  v1::ListTasksResponse first;
  ASSERT_TRUE(Tasks(list, &first).ok());
  EXPECT_THAT(Ids(first), ElementsAre("store"));
  EXPECT_EQ(first.total_size(), 2u);
  ASSERT_NE(first.next_page_token(), "");
  list.set_page_token(first.next_page_token());
  v1::ListTasksResponse second;
  ASSERT_TRUE(Tasks(list, &second).ok());
  EXPECT_THAT(Ids(second), ElementsAre("report"));
  EXPECT_EQ(second.next_page_token(), "");
}

TEST_F(ListingTest, ListTasksRefusesBadFieldsAndUnknownBatches) {
  const std::string id = SubmitLabelled({});
  v1::ListTasksRequest request;
  request.set_batch_id(id);
  request.set_page_size(10001);
  v1::ListTasksResponse response;
  grpc::Status status = Tasks(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "page_size 10001 is out of range (1 .. 10000)");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("page_size"));

  request.set_page_size(0);
  request.set_page_token("not-a-token");
  status = Tasks(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("page_token"));

  // A ListBatches token is not a ListTasks token.
  v1::ListBatchesRequest batches;
  batches.set_page_size(1);
  SubmitLabelled({});
  v1::ListBatchesResponse listed;
  ASSERT_TRUE(List(batches, &listed).ok());
  ASSERT_NE(listed.next_page_token(), "");
  request.set_page_token(listed.next_page_token());
  status = Tasks(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("page_token"));

  request.Clear();
  request.set_batch_id("no-such-batch");
  status = Tasks(request, &response);
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetBatchRequest get;
  get.set_batch_id("no-such-batch");
  v1::GetBatchResponse got;
  const grpc::Status get_status = batches_->GetBatch(&context, get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), get_status.error_message());

  request.set_batch_id("");
  status = Tasks(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("batch_id"));
}

}  // namespace
}  // namespace batchd
