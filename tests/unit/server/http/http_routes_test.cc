#include "server/http/http_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace batchd::server::http_api {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(MatchRoute, CollectionAndCustomMethods) {
  RouteMatch submit = MatchRoute("POST", "/v1/batches");
  ASSERT_NE(submit.route, nullptr);
  EXPECT_EQ(submit.route->rpc, "/batchd.v1.BatchService/SubmitBatch");
  RouteMatch process = MatchRoute("POST", "/v1/batches:process");
  ASSERT_NE(process.route, nullptr);
  EXPECT_EQ(process.route->rpc, "/batchd.v1.BatchService/ProcessBatch");
  RouteMatch cancel = MatchRoute("POST", "/v1/batches/b-1:cancel");
  ASSERT_NE(cancel.route, nullptr);
  EXPECT_EQ(cancel.route->rpc, "/batchd.v1.BatchService/CancelBatch");
  EXPECT_THAT(cancel.bindings, ElementsAre(Pair("batch_id", "b-1")));
}

TEST(MatchRoute, TaskIdsKeepColonsAndEscapedSlashes) {
  RouteMatch cancel = MatchRoute("POST", "/v1/batches/b-1/tasks/fetch:7:cancel");
  ASSERT_NE(cancel.route, nullptr);
  EXPECT_EQ(cancel.route->rpc, "/batchd.v1.BatchService/CancelTask");
  EXPECT_THAT(cancel.bindings, ElementsAre(Pair("batch_id", "b-1"), Pair("task_id", "fetch:7")));
  RouteMatch output = MatchRoute("GET", "/v1/batches/b-1/tasks/a%2Fb%20c/output");
  ASSERT_NE(output.route, nullptr);
  EXPECT_TRUE(output.route->server_streaming);
  EXPECT_THAT(output.bindings, ElementsAre(Pair("batch_id", "b-1"), Pair("task_id", "a/b c")));
}

TEST(MatchRoute, NestedVariable) {
  RouteMatch set = MatchRoute("PUT", "/v1/limits/openai");
  ASSERT_NE(set.route, nullptr);
  EXPECT_EQ(set.route->body, "limit");
  EXPECT_THAT(set.bindings, ElementsAre(Pair("limit.key", "openai")));
}

TEST(MatchRoute, WrongMethodListsTheAllowedOnes) {
  RouteMatch wrong = MatchRoute("DELETE", "/v1/batches");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_THAT(wrong.allowed_methods, ElementsAre("POST", "GET"));
  RouteMatch limit = MatchRoute("GET", "/v1/limits/openai");
  EXPECT_EQ(limit.route, nullptr);
  EXPECT_THAT(limit.allowed_methods, ElementsAre("PUT", "DELETE"));
}

TEST(MatchRoute, UnknownPathsMatchNothing) {
  for (const char* path : {"/v1/nope", "/v1/batches/b/nope", "/v2/batches", "", "v1/batches",
                           "/v1/batches/b/tasks/t:explode", "/v1/batches/%zz"}) {
    RouteMatch m = MatchRoute("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
  }
  EXPECT_EQ(MatchRoute("POST", "/v1/batches/%zz:cancel").route, nullptr);
}

TEST(MatchRoute, EveryRouteMatchesItsOwnTemplate) {
  for (const Route& route : Routes()) {
    std::string path(route.path);
    for (const char* var : {"{batch_id}", "{task_id}", "{limit.key}", "{key}"}) {
      for (size_t at = path.find(var); at != std::string::npos; at = path.find(var)) {
        path.replace(at, std::string(var).size(), "x");
      }
    }
    RouteMatch m = MatchRoute(route.method, path);
    ASSERT_NE(m.route, nullptr) << path;
    EXPECT_EQ(m.route->rpc, route.rpc) << path;
  }
}

TEST(PercentDecode, PlusIsSpaceOnlyInQueries) {
  std::string out;
  ASSERT_TRUE(PercentDecode("a+b%3Dc", true, out));
  EXPECT_EQ(out, "a b=c");
  ASSERT_TRUE(PercentDecode("a+b", false, out));
  EXPECT_EQ(out, "a+b");
  EXPECT_FALSE(PercentDecode("%4", false, out));
  EXPECT_FALSE(PercentDecode("%g0", false, out));
}

}  // namespace
}  // namespace batchd::server::http_api
