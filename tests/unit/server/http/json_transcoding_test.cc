#include "server/http/json_transcoding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "batchd/v1/batch_service.pb.h"
#include "batchd/v1/limit_service.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace batchd::server::http_api {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<google::protobuf::Message> Build(const char* method, const char* path,
                                                 const char* query, const char* body,
                                                 const char* last_event_id = "") {
  RouteMatch match = MatchRoute(method, path);
  EXPECT_NE(match.route, nullptr) << path;
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> request =
      BuildRequest(match, query, body, last_event_id);
  EXPECT_TRUE(request.ok()) << request.status();
  return request.ok() ? *std::move(request) : nullptr;
}

absl::Status BuildError(const char* method, const char* path, const char* query, const char* body) {
  RouteMatch match = MatchRoute(method, path);
  EXPECT_NE(match.route, nullptr) << path;
  return BuildRequest(match, query, body, "").status();
}

TEST(BuildRequest, BodyIsTheWholeMessage) {
  auto request =
      Build("POST", "/v1/batches", "",
            R"({"requestId":"r1","tasks":[{"id":"a","input":{"x":1}},)"
            R"({"id":"b","dependencies":["a"],"timeout_ms":500}],"labels":{"team":"ml"}})");
  auto& submit = dynamic_cast<v1::SubmitBatchRequest&>(*request);
  EXPECT_EQ(submit.request_id(), "r1");
  ASSERT_EQ(submit.tasks_size(), 2);
  EXPECT_EQ(submit.tasks(1).dependencies(0), "a");
  EXPECT_EQ(submit.tasks(1).timeout_ms(), 500u);  // proto names are accepted too
  EXPECT_EQ(submit.labels().at("team"), "ml");
}

TEST(BuildRequest, PathVariablesAndQueryParameters) {
  auto request =
      Build("GET", "/v1/batches",
            "states=BATCH_STATE_RUNNING&states=BATCH_STATE_PENDING&labelSelector=team%3Dml"
            "&page_size=50",
            "");
  auto& list = dynamic_cast<v1::ListBatchesRequest&>(*request);
  ASSERT_EQ(list.states_size(), 2);
  EXPECT_EQ(list.states(1), v1::BATCH_STATE_PENDING);
  EXPECT_EQ(list.label_selector(), "team=ml");
  EXPECT_EQ(list.page_size(), 50u);

  auto cancel = Build("POST", "/v1/batches/b-9/tasks/t:1:cancel", "", R"({"reason":"no"})");
  auto& task = dynamic_cast<v1::CancelTaskRequest&>(*cancel);
  EXPECT_EQ(task.batch_id(), "b-9");
  EXPECT_EQ(task.task_id(), "t:1");
  EXPECT_EQ(task.reason(), "no");
}

TEST(BuildRequest, BodyFieldAndNestedVariable) {
  auto request = Build("PUT", "/v1/limits/openai", "", R"({"maxInFlight":"4"})");
  auto& set = dynamic_cast<v1::SetLimitRequest&>(*request);
  EXPECT_EQ(set.limit().key(), "openai");
  EXPECT_EQ(set.limit().max_in_flight(), 4);
}

TEST(BuildRequest, LastEventIdResumesUnlessTheQueryDid) {
  auto resumed = Build("GET", "/v1/batches/b/results", "", "", "42");
  EXPECT_EQ(dynamic_cast<v1::StreamResultsRequest&>(*resumed).after_sequence(), 42u);
  auto explicit_query = Build("GET", "/v1/batches/b/results", "after_sequence=7", "", "42");
  EXPECT_EQ(dynamic_cast<v1::StreamResultsRequest&>(*explicit_query).after_sequence(), 7u);
  EXPECT_THAT(
      BuildRequest(MatchRoute("GET", "/v1/batches/b/results"), "", "", "x").status().message(),
      HasSubstr("Last-Event-ID 'x'"));
}

TEST(BuildRequest, BadInputNamesWhatIsWrong) {
  const absl::Status not_json = BuildError("POST", "/v1/batches", "", "{nope");
  EXPECT_EQ(not_json.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_json.message(), HasSubstr("batchd.v1.SubmitBatchRequest"));
  const absl::Status unknown = BuildError("POST", "/v1/batches", "", R"({"taskz":[]})");
  EXPECT_THAT(unknown.message(), HasSubstr("taskz"));
  const absl::Status wrong_type =
      BuildError("POST", "/v1/batches", "", R"({"tasks":[{"id":"a","priority":"high"}]})");
  EXPECT_THAT(wrong_type.message(), HasSubstr("priority"));
  EXPECT_THAT(BuildError("GET", "/v1/batches", "pageSise=3", "").message(),
              HasSubstr("unknown query parameter 'pageSise'"));
  EXPECT_THAT(BuildError("GET", "/v1/batches", "pageSize=3&pageSize=4", "").message(),
              HasSubstr("given twice"));
  EXPECT_THAT(BuildError("GET", "/v1/batches", "pageSize=many", "").message(),
              HasSubstr("invalid query parameter"));
  EXPECT_THAT(BuildError("GET", "/v1/batches/b", "", R"({"x":1})").message(),
              HasSubstr("takes no request body"));
  EXPECT_THAT(BuildError("POST", "/v1/batches", "requestId=1", "{}").message(),
              HasSubstr("not the query"));
}

TEST(MessageToJson, PrintsDefaultsInCanonicalForm) {
  v1::GetProgressResponse response;
  response.mutable_progress()->set_batch_id("b");
  const std::string json = MessageToJson(response);
  EXPECT_THAT(json, HasSubstr(R"("batchId":"b")"));
  EXPECT_THAT(json, HasSubstr(R"("completedTasks":0)"));
  EXPECT_THAT(json, HasSubstr(R"("state":"BATCH_STATE_UNSPECIFIED")"));
}

TEST(StatusToJson, KeepsTheServicesDetails) {
  google::rpc::Status proto;
  proto.set_code(3);
  proto.set_message("tasks[0].id: must not be empty");
  google::rpc::BadRequest bad;
  auto* violation = bad.add_field_violations();
  violation->set_field("tasks[0].id");
  violation->set_description("must not be empty");
  proto.add_details()->PackFrom(bad);
  const std::string json = StatusToJson(
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, proto.message(), proto.SerializeAsString()));
  EXPECT_THAT(json, HasSubstr(R"("code":3)"));
  EXPECT_THAT(json, HasSubstr(R"("@type":"type.googleapis.com/google.rpc.BadRequest")"));
  EXPECT_THAT(json, HasSubstr(R"("field":"tasks[0].id")"));
  EXPECT_EQ(StatusToJson(grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch 'x'")),
            R"({"code":5,"message":"no batch 'x'","details":[]})");
}

TEST(HttpStatusFor, GoogleApisMapping) {
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::FAILED_PRECONDITION), 400);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::PERMISSION_DENIED), 403);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::ALREADY_EXISTS), 409);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::CANCELLED), 499);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNIMPLEMENTED), 501);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::DATA_LOSS), 500);
}

}  // namespace
}  // namespace batchd::server::http_api
