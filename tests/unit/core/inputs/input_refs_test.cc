// CheckInputRefs and ResolveInputRefs: $ref objects and ${task#pointer} templates, every bad
// reference named by its field path, resolution by JSON pointer, "$$" escapes, null outputs.
#include "core/inputs/input_refs.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The batch of these tests: tasks a, b and c, of which the checked task depends on a and b.
struct Checked {
  bool any = false;
  std::vector<FieldViolation> violations;
};

Checked Check(const std::string& input_json) {
  FieldViolations violations;
  const std::vector<std::string> dependencies = {"a", "b"};
  Checked out;
  out.any = CheckInputRefs(
      json::parse(input_json), [] { return std::string("tasks[2].input"); }, "d", dependencies,
      [](absl::string_view id) { return id == "a" || id == "b" || id == "c"; }, violations);
  out.violations = violations.listed();
  return out;
}

// Outputs of the dependencies: a's and b's; "failed" produced none.
absl::StatusOr<std::string> Resolve(const std::string& input_json) {
  static const std::map<std::string, json::value> outputs = {
      {"a", json::parse(R"({"id": "u-17", "n": 3, "items": [{"name": "x"}, {"name": "y"}],
                            "a/b": 1, "m~n": 2})")},
      {"b", json::value("plain text")},
  };
  absl::StatusOr<json::value> out =
      ResolveInputRefs(json::parse(input_json), [](absl::string_view id) -> const json::value* {
        auto it = outputs.find(std::string(id));
        return it == outputs.end() ? nullptr : &it->second;
      });
  if (!out.ok()) return out.status();
  return json::serialize(*out);
}

TEST(CheckInputRefsTest, InputsWithoutReferencesPassAndSayNone) {
  for (const char* input : {R"({"x": 1})", R"("a $5 bill")", R"([1, "$", "$x", "{}"])", "null",
                            R"({"nested": {"deep": ["${"]}})"}) {
    const Checked c = Check(input);
    if (std::string(input).find("${") != std::string::npos) continue;  // checked below
    EXPECT_FALSE(c.any) << input;
    EXPECT_THAT(c.violations, IsEmpty()) << input;
  }
}

TEST(CheckInputRefsTest, WellFormedReferencesPassAndSayAny) {
  for (const char* input :
       {R"({"$ref": "a"})", R"({"body": {"$ref": "a", "path": "/items/0/name"}})",
        R"({"url": "http://h/users/${a#/id}?q=${b}"})", R"(["cost: $$5"])",
        R"({"$ref": "b", "path": ""})", R"("${a#/a~1b} ${a#/m~0n}")"}) {
    const Checked c = Check(input);
    EXPECT_TRUE(c.any) << input;
    EXPECT_THAT(c.violations, IsEmpty()) << input;
  }
}

TEST(CheckInputRefsTest, EachBadReferenceIsNamedByItsFieldPath) {
  const Checked c = Check(R"({
    "body": {"$ref": "c"},
    "list": [1, {"$ref": "zz"}],
    "target": {"$ref": 7},
    "extra": {"$ref": "a", "pointer": "/x"},
    "path": {"$ref": "a", "path": "id"},
    "tilde": {"$ref": "a", "path": "/x~2"},
    "nonstring": {"$ref": "a", "path": 3}
  })");
  EXPECT_TRUE(c.any);
  EXPECT_THAT(
      c.violations,
      ElementsAre(
          FieldViolation{"tasks[2].input.body.$ref",
                         "Task 'd': refers to task 'c', which is not among its dependencies "
                         "(add it to dependencies)"},
          FieldViolation{"tasks[2].input.list[1].$ref", "Task 'd': refers to unknown task 'zz'"},
          FieldViolation{"tasks[2].input.target.$ref",
                         "Task 'd': $ref must name a task (a non-empty string)"},
          FieldViolation{"tasks[2].input.extra.pointer",
                         "Task 'd': a $ref object has only \"$ref\" and \"path\" members, not "
                         "'pointer'"},
          FieldViolation{"tasks[2].input.path.path",
                         "Task 'd': $ref path 'id' is not a JSON pointer (RFC 6901: empty, or "
                         "'/' before each step; '~' only as '~0' or '~1')"},
          FieldViolation{"tasks[2].input.tilde.path",
                         "Task 'd': $ref path '/x~2' is not a JSON pointer (RFC 6901: empty, or "
                         "'/' before each step; '~' only as '~0' or '~1')"},
          FieldViolation{"tasks[2].input.nonstring.path",
                         "Task 'd': $ref path must be a JSON pointer string"}));
}

TEST(CheckInputRefsTest, BadTemplatesAreNamedByTheStringsPath) {
  const Checked c = Check(R"({
    "unclosed": "id=${a#/id",
    "empty": "x${}y",
    "stranger": ["ok ${a}", "${c#/x}"],
    "pointer": "${a#id}"
  })");
  EXPECT_TRUE(c.any);
  EXPECT_THAT(
      c.violations,
      ElementsAre(
          FieldViolation{"tasks[2].input.unclosed",
                         "Task 'd': template '${a#/id' has no closing '}' (write '$$' for a "
                         "literal '$')"},
          FieldViolation{"tasks[2].input.empty",
                         "Task 'd': template '${}' names no task (write '$$' for a literal '$')"},
          FieldViolation{"tasks[2].input.stranger[1]",
                         "Task 'd': template '${c#/x}' refers to task 'c', which is not among its "
                         "dependencies (add it to dependencies)"},
          FieldViolation{"tasks[2].input.pointer",
                         "Task 'd': template '${a#id}': 'id' is not a JSON pointer (RFC 6901: "
                         "empty, or '/' before each step; '~' only as '~0' or '~1')"}));
}

TEST(CheckInputRefsTest, TheFieldPathIsBuiltOnlyForAViolation) {
  FieldViolations violations;
  int built = 0;
  const std::vector<std::string> dependencies = {"a"};
  EXPECT_TRUE(CheckInputRefs(
      json::parse(R"({"$ref": "a"})"),
      [&] {
        ++built;
        return std::string("tasks[0].input");
      },
      "t", dependencies, [](absl::string_view) { return true; }, violations));
  EXPECT_EQ(built, 0);
  EXPECT_TRUE(violations.empty());
}

TEST(ResolveInputRefsTest, RefObjectsBecomeTheValuesTheyName) {
  EXPECT_EQ(*Resolve(R"({"$ref": "a", "path": "/id"})"), R"("u-17")");
  EXPECT_EQ(*Resolve(R"({"body": {"user": {"$ref": "a", "path": "/items/1"}, "k": [1]}})"),
            R"({"body":{"user":{"name":"y"},"k":[1]}})");
  EXPECT_EQ(*Resolve(R"([{"$ref": "b"}, {"$ref": "a", "path": "/n"}])"), R"(["plain text",3])");
  EXPECT_EQ(*Resolve(R"({"$ref": "a", "path": "/a~1b"})"), "1");
  EXPECT_EQ(*Resolve(R"({"$ref": "a", "path": "/m~0n"})"), "2");
}

TEST(ResolveInputRefsTest, TemplatesRenderStringsAsTheyAreAndOtherJsonCompactly) {
  EXPECT_EQ(*Resolve(R"("https://api/users/${a#/id}/items?n=${a#/n}")"),
            R"("https://api/users/u-17/items?n=3")");
  EXPECT_EQ(*Resolve(R"("${b}|${a#/items/0}")"), R"("plain text|{\"name\":\"x\"}")");
  EXPECT_EQ(*Resolve(R"(["price $$5", "$${a}", "a$b", "$"])"), R"(["price $5","${a}","a$b","$"])");
}

TEST(ResolveInputRefsTest, ADependencyWithoutOutputResolvesToNull) {
  EXPECT_EQ(*Resolve(R"({"x": {"$ref": "failed", "path": "/id"}})"), R"({"x":null})");
  EXPECT_EQ(*Resolve(R"("got ${failed#/id}")"), R"("got null")");
}

TEST(ResolveInputRefsTest, APointerThatNamesNothingFailsNamingTheReference) {
  const absl::StatusOr<std::string> ref = Resolve(R"({"body": {"$ref": "a", "path": "/user"}})");
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ref.status().message(), "input.body.$ref: task 'a' has no '/user' in its output");
  const absl::StatusOr<std::string> templ = Resolve(R"({"urls": ["x", "/u/${a#/items/5/name}"]})");
  EXPECT_EQ(templ.status().message(),
            "input.urls[1]: template '${a#/items/5/name}': task 'a' has no '/items/5/name' in its "
            "output");
  EXPECT_THAT(Resolve(R"({"$ref": "b", "path": "/x"})").status().message(),
              HasSubstr("task 'b' has no '/x'"));
}

}  // namespace
}  // namespace batchd::core
