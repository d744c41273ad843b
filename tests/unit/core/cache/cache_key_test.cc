// CacheKeyBuilder: equal JSON gives equal keys whatever its members' order; executor, namespace,
// input, value types and dependency outputs all tell keys apart; a client key never equals a
// task's; the digest is SHA-256 of the documented encoding (a vector computed outside).
#include "core/cache/cache_key.h"

#include <boost/json/parse.hpp>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

CacheKey Task(const char* input, const char* executor = "echo", const char* ns = "") {
  CacheKeyBuilder b;
  return b.ForTask(ns, executor, json::parse(input));
}

TEST(CacheKeyTest, MemberOrderDoesNotMatter) {
  EXPECT_EQ(Task(R"({"a": 1, "b": {"x": [1, 2], "y": null}})"),
            Task(R"({"b": {"y": null, "x": [1, 2]}, "a": 1})"));
}

TEST(CacheKeyTest, EverythingTheTaskRunsWithTellsKeysApart) {
  const CacheKey base = Task(R"({"q": "weather"})");
  EXPECT_NE(base, Task(R"({"q": "weather "})"));
  EXPECT_NE(base, Task(R"({"q": "weather"})", "http"));
  EXPECT_NE(base, Task(R"({"q": "weather"})", "echo", "tenant-2"));
  EXPECT_NE(Task("[1, 2]"), Task("[[1, 2]]"));
  EXPECT_NE(Task(R"("1")"), Task("1"));
  EXPECT_NE(Task("1"), Task("1.0"));  // int64 and double are different JSON values here
  EXPECT_NE(Task(R"(["ab", "c"])"), Task(R"(["a", "bc"])"));  // lengths are part of it
  EXPECT_NE(Task(R"({"a": "b"})"), Task(R"(["a", "b"])"));
}

TEST(CacheKeyTest, DependencyOutputsCountForExecutorsThatReceiveThem) {
  CacheKeyBuilder b;
  const json::value input = json::parse("{}");
  const json::value one = json::parse(R"({"v": 1})");
  const json::value two = json::parse(R"({"v": 2})");
  const json::value null_output = nullptr;
  const DigestedDependency a1[] = {{"a", &one}};
  const DigestedDependency a2[] = {{"a", &two}};
  const DigestedDependency none[] = {{"a", nullptr}};
  const DigestedDependency null[] = {{"a", &null_output}};
  const CacheKey k1 = b.ForTask("", "w", input, a1);
  EXPECT_EQ(k1, b.ForTask("", "w", input, a1));
  EXPECT_NE(k1, b.ForTask("", "w", input, a2));
  EXPECT_NE(k1, b.ForTask("", "w", input));
  EXPECT_NE(b.ForTask("", "w", input, none), b.ForTask("", "w", input, null));
}

TEST(CacheKeyTest, AClientKeyIsItsOwnSpace) {
  CacheKeyBuilder b;
  EXPECT_EQ(b.ForClientKey("ns", "user:17"), b.ForClientKey("ns", "user:17"));
  EXPECT_NE(b.ForClientKey("ns", "user:17"), b.ForClientKey("other", "user:17"));
  EXPECT_NE(b.ForClientKey("", "\"x\""), b.ForTask("", "", json::value("x")));
}

TEST(CacheKeyTest, HexIsSixtyFourLowerCaseDigitsAndStable) {
  const std::string hex = Task(R"({"q": 1})").Hex();
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(hex, Task(R"({"q": 1})").Hex());
  // SHA-256 of the documented encoding, computed outside batchd: printf 'batchd-cache-v1T'
  // + namespace (8-byte length 0) + executor (length 4, "echo") + 'n' (null) + 0 dependencies
  // | sha256sum. A change to the encoding (which would orphan stored entries) shows here.
  EXPECT_EQ(Task("null").Hex(), "cec5d238c3d07ef5487af47839274abfa9edbb634d9bda7fc3906d4818ff3071");
}

}  // namespace
}  // namespace batchd::core
