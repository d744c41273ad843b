#include "core/executors/http/http_request_spec.h"

#include <boost/json.hpp>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

HttpRequestSpec ParseOk(boost::json::value input) {
  absl::StatusOr<HttpRequestSpec> spec = ParseHttpRequestSpec(input);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : HttpRequestSpec{};
}

TEST(HttpRequestSpecTest, UrlDefaults) {
  HttpRequestSpec spec = ParseOk(boost::json::object{{"url", "http://example.com"}});
  EXPECT_EQ(spec.method, "GET");
  EXPECT_EQ(spec.host, "example.com");
  EXPECT_EQ(spec.port, 80);
  EXPECT_EQ(spec.target, "/");
  EXPECT_EQ(spec.host_header, "example.com");
  EXPECT_FALSE(spec.body.has_value());
  EXPECT_FALSE(spec.timeout_ms.has_value());
}

TEST(HttpRequestSpecTest, PortPathQueryAndFragment) {
  HttpRequestSpec spec =
      ParseOk(boost::json::object{{"url", "HTTP://h.local:8080/a/b?x=1&y#frag"}});
  EXPECT_EQ(spec.host, "h.local");
  EXPECT_EQ(spec.port, 8080);
  EXPECT_EQ(spec.target, "/a/b?x=1&y");
  EXPECT_EQ(spec.host_header, "h.local:8080");
  EXPECT_EQ(ParseOk(boost::json::object{{"url", "http://h?q=1"}}).target, "/?q=1");
  EXPECT_EQ(ParseOk(boost::json::object{{"url", "http://h:80/"}}).host_header, "h");
}

TEST(HttpRequestSpecTest, HttpsDefaultsToPort443AndLeavesItOutOfTheHostHeader) {
  HttpRequestSpec spec = ParseOk(boost::json::object{{"url", "https://api.example.com/v1?k=1"}});
  EXPECT_TRUE(spec.tls);
  EXPECT_EQ(spec.host, "api.example.com");
  EXPECT_EQ(spec.port, 443);
  EXPECT_EQ(spec.target, "/v1?k=1");
  EXPECT_EQ(spec.host_header, "api.example.com");
  const HttpRequestSpec other = ParseOk(boost::json::object{{"url", "HTTPS://h:8443"}});
  EXPECT_TRUE(other.tls);
  EXPECT_EQ(other.port, 8443);
  EXPECT_EQ(other.host_header, "h:8443");
  EXPECT_EQ(ParseOk(boost::json::object{{"url", "https://h:80/"}}).host_header, "h:80");
  EXPECT_FALSE(ParseOk(boost::json::object{{"url", "http://h/"}}).tls);
}

TEST(HttpRequestSpecTest, RedirectsResolveAgainstTheCurrentUrl) {
  HttpRequestSpec spec = ParseOk(boost::json::object{
      {"url", "https://api.example.com/v1/items/7?page=2"},
      {"headers", {{"Authorization", "Bearer x"}, {"Cookie", "c=1"}, {"X-Trace", "7"}}}});
  const auto next = [&spec](const char* location) {
    absl::StatusOr<HttpRequestSpec> r = RedirectedSpec(spec, location);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->url : r.status().ToString();
  };
  EXPECT_EQ(next("8"), "https://api.example.com:443/v1/items/8");
  EXPECT_EQ(next("../up?q=1"), "https://api.example.com:443/v1/items/../up?q=1");
  EXPECT_EQ(next("/root"), "https://api.example.com:443/root");
  EXPECT_EQ(next("//cdn.example.com/a"), "https://cdn.example.com/a");
  EXPECT_EQ(next("HTTPS://other:8443/b"), "HTTPS://other:8443/b");

  absl::StatusOr<HttpRequestSpec> same = RedirectedSpec(spec, "/root");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->target, "/root");
  EXPECT_EQ(same->host_header, "api.example.com");
  EXPECT_EQ(same->max_redirects, kDefaultMaxRedirects - 1);
  EXPECT_EQ(same->headers.size(), 3u);  // the same origin keeps the credentials
  absl::StatusOr<HttpRequestSpec> away = RedirectedSpec(spec, "https://cdn.example.com/");
  ASSERT_TRUE(away.ok());
  ASSERT_EQ(away->headers.size(), 1u);
  EXPECT_EQ(away->headers[0].first, "X-Trace");

  EXPECT_EQ(RedirectedSpec(spec, "http://api.example.com/").status().message(),
            "http: https://api.example.com/v1/items/7?page=2 redirects to "
            "http://api.example.com/: a redirect from https:// to http:// is not followed");
  EXPECT_EQ(RedirectedSpec(spec, "https://bad host/").status().message(),
            "http: https://api.example.com/v1/items/7?page=2 redirects to 'https://bad host/', "
            "which is not a valid URL");
}

TEST(HttpRequestSpecTest, WhichRedirectsAreFollowed) {
  EXPECT_TRUE(IsFollowedRedirect("GET", 301));
  EXPECT_TRUE(IsFollowedRedirect("HEAD", 302));
  EXPECT_TRUE(IsFollowedRedirect("GET", 303));
  EXPECT_FALSE(IsFollowedRedirect("POST", 302));
  EXPECT_TRUE(IsFollowedRedirect("POST", 307));
  EXPECT_TRUE(IsFollowedRedirect("PUT", 308));
  EXPECT_FALSE(IsFollowedRedirect("GET", 304));
  EXPECT_FALSE(IsFollowedRedirect("GET", 200));
  EXPECT_EQ(ParseHttpRequestSpec(boost::json::object{{"url", "http://h/"}, {"max_redirects", 21}})
                .status()
                .message(),
            "http: input.max_redirects must be a whole number from 0 to 20");
}

TEST(HttpRequestSpecTest, Ipv6Literal) {
  HttpRequestSpec spec = ParseOk(boost::json::object{{"url", "http://[::1]:9000/x"}});
  EXPECT_EQ(spec.host, "::1");
  EXPECT_EQ(spec.port, 9000);
  EXPECT_EQ(spec.host_header, "[::1]:9000");
}

TEST(HttpRequestSpecTest, BodiesAndHeaders) {
  HttpRequestSpec json = ParseOk(boost::json::object{
      {"url", "http://h/"}, {"method", "POST"}, {"body", {1, 2}}, {"timeout_ms", 1500}});
  EXPECT_EQ(json.body, "[1,2]");
  ASSERT_EQ(json.headers.size(), 1u);
  EXPECT_EQ(json.headers[0],
            (std::pair<std::string, std::string>{"Content-Type", "application/json"}));
  EXPECT_EQ(json.timeout_ms, 1500u);

  HttpRequestSpec text = ParseOk(
      boost::json::object{{"url", "http://h/"}, {"body", "raw"}, {"headers", {{"Accept", "*/*"}}}});
  EXPECT_EQ(text.body, "raw");
  ASSERT_EQ(text.headers.size(), 1u);
  EXPECT_EQ(text.headers[0].first, "Accept");

  HttpRequestSpec none = ParseOk(boost::json::object{{"url", "http://h/"}, {"body", nullptr}});
  EXPECT_FALSE(none.body.has_value());
}

TEST(HttpRequestSpecTest, RejectsWithTheField) {
  const std::pair<boost::json::value, std::string> cases[] = {
      {boost::json::object{{"url", "http://user@h/"}},
       "http: input.url 'http://user@h/' is not a valid http:// or https:// URL: user information "
       "is not "
       "supported"},
      {boost::json::object{{"url", "http://h:/"}},
       "http: input.url 'http://h:/' is not a valid http:// or https:// URL: the port must be a "
       "number from "
       "1 to 65535"},
      {boost::json::object{{"url", "http://h/a b"}},
       "http: input.url 'http://h/a b' is not a valid http:// or https:// URL: spaces, control and "
       "non-ASCII characters must be percent-encoded"},
      {boost::json::object{{"url", "http://[::1/"}},
       "http: input.url 'http://[::1/' is not a valid http:// or https:// URL: unterminated IPv6 "
       "literal"},
      {boost::json::object{{"url", "http://h/"}, {"method", "get"}},
       "http: input.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
      {boost::json::object{{"url", "http://h/"}, {"headers", {1}}},
       "http: input.headers must be an object of strings"},
      {boost::json::object{{"url", "http://h/"}, {"headers", {{"Bad Name", "x"}}}},
       "http: input.headers has an invalid header name 'Bad Name'"},
      {boost::json::object{{"url", "http://h/"}, {"timeout_ms", 0}},
       "http: input.timeout_ms must be a whole number of milliseconds from 1 to 86400000"},
      {boost::json::object{{"url", "http://h/"}, {"timeout_ms", 1.5}},
       "http: input.timeout_ms must be a whole number of milliseconds from 1 to 86400000"},
  };
  for (const auto& [input, error] : cases) {
    absl::StatusOr<HttpRequestSpec> spec = ParseHttpRequestSpec(input);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << input;
    EXPECT_EQ(spec.status().message(), error) << input;
  }
}

}  // namespace
}  // namespace batchd::core
