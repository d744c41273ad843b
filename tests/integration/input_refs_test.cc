// Dependency outputs in task inputs, through the real daemon: an http task's URL and body, a
// shell task's argv and stdin (one argument per value, never through a shell) and a callback
// worker's input take what a dependency returned; a bad reference refuses the batch with a
// BadRequest field path; a pointer that names nothing fails the task without running it.
// Requests are written as JSON (protobuf's own conversion) to read like a client's.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"
#include "tests/testing/http_test_server.h"

namespace batchd {
namespace {

using ::batchd::testing::ChildProcess;
using ::batchd::testing::HttpTestServer;
using ::testing::EndsWith;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// Generous: a busy 2-core machine may be building while the tests run.
constexpr std::chrono::seconds kCallTimeout{60};

std::string Json(const google::protobuf::Message& message) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out).ok());
  return out;
}

class InputRefsTest : public testing::DaemonTestBase {
 protected:
  std::vector<std::string> DaemonFlags() const override { return {"--enable-shell"}; }

  void TearDown() override {
    if (HasFailure() && worker_ != nullptr) std::cerr << "worker stderr:\n" << worker_->Stderr();
    worker_.reset();
    DaemonTestBase::TearDown();
  }

  // ProcessBatch with the request given as JSON; "{{server}}" becomes the test server's URL.
  v1::BatchSummary Process(const std::string& json) {
    v1::ProcessBatchRequest request;
    const std::string text =
        server_ != nullptr ? absl::StrReplaceAll(json, {{"{{server}}", server_->Url("")}}) : json;
    const auto parsed = google::protobuf::util::JsonStringToMessage(text, &request);
    EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << text;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    const grpc::Status status = batches_->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return response.summary();
  }

  static const v1::TaskResult& ResultOf(const v1::BatchSummary& s, const std::string& id) {
    for (const v1::TaskResult& r : s.results()) {
      if (r.task_id() == id) return r;
    }
    ADD_FAILURE() << "no result for " << id << " in " << s.DebugString();
    static const v1::TaskResult none;
    return none;
  }
  static const google::protobuf::Value& Field(const google::protobuf::Value& v,
                                              const std::string& name) {
    return v.struct_value().fields().at(name);
  }

  void Serve(HttpTestServer::Handler handler) {
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server =
        HttpTestServer::Start(std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::unique_ptr<HttpTestServer> server_;
  std::unique_ptr<ChildProcess> worker_;
};

TEST_F(InputRefsTest, AnHttpTasksUrlAndBodyTakeADependencysOutput) {
  Serve([](const HttpTestServer::Request& request) {
    HttpTestServer::Reply reply;
    reply.headers = {{"Content-Type", "application/json"}};
    reply.body = request.target == "/users/me" ? R"({"id": "u-17", "name": "Ada", "n": 3})"
                                               : R"({"ok": true})";
    return reply;
  });
  const v1::BatchSummary s = Process(R"({"tasks": [
    {"id": "me", "executor": "http", "input": {"url": "{{server}}/users/me"}},
    {"id": "order", "executor": "http", "dependencies": ["me"], "input": {
      "method": "POST", "url": "{{server}}/users/${me#/body/id}/orders?n=${me#/body/n}",
      "body": {"for": {"$ref": "me", "path": "/body/name"}, "note": "costs $$5"}}}]})");
  EXPECT_EQ(s.state(), v1::BATCH_STATE_SUCCEEDED) << s.DebugString();
  const std::vector<HttpTestServer::Request> requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].target, "/users/u-17/orders?n=3");
  EXPECT_EQ(boost::json::parse(requests[1].body),
            boost::json::parse(R"({"for":"Ada","note":"costs $5"})"));
}

TEST_F(InputRefsTest, AShellTaskGetsEachValueAsOneArgumentAndOnStdin) {
  // A value built to break a command line: it must reach the program as one argument, as is.
  const v1::BatchSummary s = Process(R"({"tasks": [
    {"id": "a", "executor": "echo", "input": {"word": "x; echo INJECTED $(id) *", "n": 7}},
    {"id": "run", "executor": "shell", "dependencies": ["a"], "input": {
      "argv": ["/bin/sh", "-c", "printf '%s|' \"$@\"; printf '#'; cat", "sh", "${a#/word}",
               "n=${a#/n}", {"$ref": "a", "path": "/word"}],
      "stdin": "stdin: ${a}"}}]})");
  const v1::TaskResult& run = ResultOf(s, "run");
  ASSERT_EQ(run.state(), v1::TASK_STATE_SUCCEEDED) << run.DebugString();
  const std::string out = Field(run.output(), "stdout").string_value();
  const std::string args = "x; echo INJECTED $(id) *|n=7|x; echo INJECTED $(id) *|#stdin: ";
  ASSERT_EQ(out.substr(0, args.size()), args) << out;
  // A's whole output, compact; the order of its members is the input Struct's (unspecified).
  EXPECT_EQ(boost::json::parse(out.substr(args.size())),
            boost::json::parse(R"({"word":"x; echo INJECTED $(id) *","n":7})"));
}

TEST_F(InputRefsTest, ACallbackWorkerGetsTheResolvedInput) {
  const std::string executor = "refs-worker";
  absl::StatusOr<std::unique_ptr<ChildProcess>> worker = ChildProcess::Spawn(
      {BATCHD_TEST_WORKER, "--addr", daemon_->address(), "--executor", executor});
  ASSERT_TRUE(worker.ok()) << worker.status();
  worker_ = *std::move(worker);
  const v1::BatchSummary s = Process(R"({"options": {"waitForWorkers": true}, "tasks": [
    {"id": "a", "executor": "echo", "input": {"v": [1, 2], "name": "Ada"}},
    {"id": "w", "executor": "refs-worker", "dependencies": ["a"],
     "input": {"list": {"$ref": "a", "path": "/v"}, "greeting": "hi ${a#/name}"}}]})");
  const v1::TaskResult& w = ResultOf(s, "w");
  ASSERT_EQ(w.state(), v1::TASK_STATE_SUCCEEDED) << w.DebugString();
  EXPECT_EQ(boost::json::parse(Json(Field(w.output(), "input"))),
            boost::json::parse(R"({"list":[1,2],"greeting":"hi Ada"})"));
}

TEST_F(InputRefsTest, ABadReferenceRefusesTheBatchNamingItsFieldPath) {
  v1::SubmitBatchRequest request;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(R"({"tasks": [
    {"id": "a", "executor": "echo"}, {"id": "x", "executor": "echo"},
    {"id": "b", "executor": "echo", "dependencies": ["a"],
     "input": {"body": {"$ref": "x"}, "url": "${a#id}", "list": [{"$ref": "nobody"}]}}]})",
                                                          &request)
                  .ok());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::SubmitBatchResponse response;
  const grpc::Status status = batches_->SubmitBatch(&context, request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The message is the first violation's; which one is first follows the order of the input's
  // members, and a protobuf Struct keeps none.
  EXPECT_THAT(status.error_message(), StartsWith("Task 'b': "));
  EXPECT_THAT(status.error_message(), EndsWith(" (and 2 more)"));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details_size() == 1 && details.details(0).UnpackTo(&bad_request));
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& v : bad_request.field_violations()) {
    fields.emplace_back(v.field(), v.description());
  }
  EXPECT_THAT(
      fields,
      UnorderedElementsAre(
          Pair("tasks[2].input.body.$ref",
               "Task 'b': refers to task 'x', which is not among its dependencies (add it to "
               "dependencies)"),
          Pair("tasks[2].input.url",
               "Task 'b': template '${a#id}': 'id' is not a JSON pointer (RFC 6901: empty, or "
               "'/' before each step; '~' only as '~0' or '~1')"),
          Pair("tasks[2].input.list[0].$ref", "Task 'b': refers to unknown task 'nobody'")));
}

TEST_F(InputRefsTest, APointerThatNamesNothingFailsTheTaskWithoutSendingIt) {
  Serve([](const HttpTestServer::Request&) {
    HttpTestServer::Reply reply;
    reply.headers = {{"Content-Type", "application/json"}};
    reply.body = R"({"id": "u-17"})";
    return reply;
  });
  const v1::BatchSummary s = Process(R"({"tasks": [
    {"id": "me", "executor": "http", "input": {"url": "{{server}}/users/me"}},
    {"id": "order", "executor": "http", "dependencies": ["me"],
     "retryPolicy": {"kind": "RETRY_KIND_FIXED", "maxRetries": 3, "initialDelayMs": 10},
     "input": {"url": "{{server}}/orders/${me#/body/account}"}}]})");
  const v1::TaskResult& order = ResultOf(s, "order");
  EXPECT_EQ(order.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(order.error(),
            "input.url: template '${me#/body/account}': task 'me' has no '/body/account' in its "
            "output");
  EXPECT_EQ(order.retry_count(), 0u);
  EXPECT_EQ(server_->requests().size(), 1u);
}

}  // namespace
}  // namespace batchd
