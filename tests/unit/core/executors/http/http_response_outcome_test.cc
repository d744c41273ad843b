#include "core/executors/http/http_response_outcome.h"

#include <boost/json.hpp>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
WallTime RfcExampleTime() { return absl::ToChronoTime(absl::FromUnixSeconds(784111777)); }

HttpResponseData Response(unsigned status, std::string reason,
                          std::vector<std::pair<std::string, std::string>> headers = {},
                          std::string body = "") {
  return {status, std::move(reason), std::move(headers), std::move(body)};
}

TEST(ParseRetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("2", {}), 2000u);
  EXPECT_EQ(ParseRetryAfter(" 0 ", {}), 0u);
  EXPECT_EQ(ParseRetryAfter("999999", {}), kMaxRetryAfterMs);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", {}), kMaxRetryAfterMs);
  EXPECT_EQ(ParseRetryAfter("-1", {}), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", {}), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", {}), std::nullopt);
}

TEST(ParseRetryAfterTest, HttpDate) {
  const WallTime now = RfcExampleTime();
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:40 GMT", now), 3000u);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now), 0u);
  EXPECT_EQ(ParseRetryAfter("Mon, 07 Nov 1994 08:49:37 GMT", now), kMaxRetryAfterMs);
  EXPECT_EQ(ParseRetryAfter("tomorrow", now), std::nullopt);
}

TEST(HttpResponseOutputTest, HeadersAreLowerCasedAndRepeatsJoined) {
  boost::json::object output = HttpResponseOutput(
      Response(200, "OK", {{"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}, {"X-One", "1"}}, "hi"));
  EXPECT_EQ(output.at("status"), 200);
  EXPECT_EQ(output.at("headers"),
            (boost::json::object{{"set-cookie", "a=1, b=2"}, {"x-one", "1"}}));
  EXPECT_EQ(output.at("body"), "hi");
}

TEST(HttpResponseOutputTest, JsonMediaTypes) {
  EXPECT_EQ(HttpResponseOutput(
                Response(200, "OK", {{"Content-Type", "Application/JSON; charset=utf-8"}}, "[1]"))
                .at("body"),
            (boost::json::array{1}));
  EXPECT_EQ(HttpResponseOutput(
                Response(200, "OK", {{"content-type", "application/problem+json"}}, "{\"a\":true}"))
                .at("body"),
            (boost::json::object{{"a", true}}));
  EXPECT_EQ(HttpResponseOutput(Response(200, "OK", {{"content-type", "text/json-ish"}}, "[1]"))
                .at("body"),
            "[1]");
}

TEST(HttpResponseOutcomeTest, StatusClasses) {
  EXPECT_TRUE(HttpResponseOutcome(Response(204, "No Content"), {}).success);
  EXPECT_TRUE(HttpResponseOutcome(Response(302, "Found", {{"Location", "/x"}}), {}).success);

  ExecutionOutcome forbidden = HttpResponseOutcome(Response(403, "Forbidden"), {});
  EXPECT_EQ(forbidden.error, "http: 403 Forbidden");
  EXPECT_TRUE(forbidden.non_retryable);
  EXPECT_EQ(forbidden.output.at("status"), 403);

  ExecutionOutcome throttled =
      HttpResponseOutcome(Response(429, "Too Many Requests", {{"retry-after", "5"}}), {});
  EXPECT_EQ(throttled.error, "http: 429 Too Many Requests (retry after 5000 ms)");
  EXPECT_FALSE(throttled.non_retryable);
  EXPECT_EQ(throttled.retry_after_ms, 5000u);

  ExecutionOutcome unavailable = HttpResponseOutcome(Response(503, "Service Unavailable"), {});
  EXPECT_EQ(unavailable.error, "http: 503 Service Unavailable");
  EXPECT_FALSE(unavailable.non_retryable);
  EXPECT_EQ(unavailable.retry_after_ms, std::nullopt);

  // Retry-After only means something on 429 and 503.
  ExecutionOutcome gateway =
      HttpResponseOutcome(Response(502, "Bad Gateway", {{"Retry-After", "5"}}), {});
  EXPECT_EQ(gateway.error, "http: 502 Bad Gateway");
  EXPECT_FALSE(gateway.non_retryable);
  EXPECT_EQ(gateway.retry_after_ms, std::nullopt);
}

}  // namespace
}  // namespace batchd::core
