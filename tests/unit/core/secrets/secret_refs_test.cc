// CheckSecretRefs and SubstituteSecrets, alone and after core/inputs' ResolveInputRefs: references
// named by their field paths, who may read a secret, substitution only at the sites recorded at
// submit, and the escaping both passes share ("$$" unescaped once; nothing a dependency's output
// holds ever read as a secret reference).
#include "core/secrets/secret_refs.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/inputs/input_refs.h"
#include "core/model/field_violation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

SecretStore Store() {
  SecretStore store;
  EXPECT_TRUE(store.Add("api", "sk-API", {"http", "manual"}).ok());
  EXPECT_TRUE(store.Add("db", "pw$$DB", {"http"}).ok());
  return store;
}

struct Checked {
  SecretRefs refs;
  std::vector<FieldViolation> violations;
};

Checked Check(const std::string& input_json, const std::string& executor = "http",
              const SecretStore& store = Store()) {
  FieldViolations violations;
  Checked out;
  out.refs = CheckSecretRefs(
      json::parse(input_json), [] { return std::string("tasks[2].input"); }, "t", executor, store,
      violations);
  out.violations = violations.listed();
  return out;
}

// The input an attempt is given, compact: checked, dependency references resolved against
// `outputs` (task id -> output JSON), secrets substituted.
std::string Attempt(const std::string& input_json,
                    const std::map<std::string, std::string>& outputs = {}) {
  const SecretStore store = Store();
  const json::value submitted = json::parse(input_json);
  FieldViolations violations;
  std::vector<std::string> deps;
  for (const auto& [id, output] : outputs) deps.push_back(id);
  const bool refs = CheckInputRefs(
      submitted, [] { return std::string("input"); }, "t", deps,
      [](absl::string_view) { return true; }, violations);
  const SecretRefs secrets = CheckSecretRefs(
      submitted, [] { return std::string("input"); }, "t", "http", store, violations);
  EXPECT_TRUE(violations.empty()) << violations.listed().front().description;
  std::map<std::string, json::value> parsed;
  for (const auto& [id, output] : outputs) parsed[id] = json::parse(output);
  json::value input = submitted;
  if (refs) {
    absl::StatusOr<json::value> resolved = ResolveInputRefs(
        submitted,
        [&](absl::string_view id) -> const json::value* { return &parsed.at(std::string(id)); });
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    input = *resolved;
  }
  absl::StatusOr<json::value> out = SubstituteSecrets(input, secrets, store);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? json::serialize(*out) : "";
}

TEST(CheckSecretRefsTest, RecordsTheSitesAndNamesOfEveryReference) {
  const Checked c = Check(
      R"({"headers": {"Authorization": "Bearer ${secret:api}", "X": "${secret:db}${secret:api}"},
          "key": {"$secret": "db"}, "list": [1, {"$secret": "api"}], "plain": "$5 ${x}",
          "dep": {"$ref": "a", "path": "/${secret:api}"}, "a/b": "${secret:api}"})");
  EXPECT_THAT(c.violations, IsEmpty());
  EXPECT_THAT(c.refs.sites,
              ElementsAre("/headers/Authorization", "/headers/X", "/key", "/list/1", "/a~1b"));
  EXPECT_THAT(c.refs.names, ElementsAre("api", "db"));
}

TEST(CheckSecretRefsTest, AnInputWithoutReferencesHasNone) {
  const Checked c = Check(R"({"a": "$$${x}", "b": "$${secret:api}", "c": {"secret": "api"}})");
  EXPECT_THAT(c.violations, IsEmpty());
  EXPECT_TRUE(c.refs.empty());
}

TEST(CheckSecretRefsTest, AnUnknownSecretIsNamedWithItsPathAndTheDefinedNames) {
  const Checked c = Check(R"({"headers": {"Authorization": "Bearer ${secret:openai}"},
                              "k": {"$secret": "nope"}})");
  ASSERT_EQ(c.violations.size(), 2u);
  EXPECT_EQ(c.violations[0].field, "tasks[2].input.headers.Authorization");
  EXPECT_EQ(c.violations[0].description,
            "Task 't': template '${secret:openai}': unknown secret 'openai' (the daemon's "
            "--secrets-file defines: api, db)");
  EXPECT_EQ(c.violations[1].field, "tasks[2].input.k.$secret");
  EXPECT_EQ(c.violations[1].description,
            "Task 't': unknown secret 'nope' (the daemon's --secrets-file defines: api, db)");
}

TEST(CheckSecretRefsTest, WithoutSecretsTheMessageSaysHowToDefineThem) {
  const Checked c = Check(R"({"$secret": "api"})", "http", SecretStore());
  ASSERT_EQ(c.violations.size(), 1u);
  EXPECT_EQ(c.violations[0].field, "tasks[2].input.$secret");
  EXPECT_EQ(c.violations[0].description,
            "Task 't': unknown secret 'api' (the daemon defines no secrets: start it with "
            "--secrets-file)");
}

TEST(CheckSecretRefsTest, AnExecutorTheSecretDoesNotListMayNotReadIt) {
  const Checked c = Check(R"({"text": "${secret:db}"})", "echo");
  ASSERT_EQ(c.violations.size(), 1u);
  EXPECT_EQ(c.violations[0].field, "tasks[2].input.text");
  EXPECT_EQ(c.violations[0].description,
            "Task 't': template '${secret:db}': executor 'echo' may not read secret 'db' "
            "(readable by: http; list the executor in the secret's \"executors\" in "
            "--secrets-file)");
  EXPECT_THAT(Check(R"({"text": "${secret:api}"})", "manual").violations, IsEmpty());
}

TEST(CheckSecretRefsTest, ASecretObjectHasOnlyItsMemberAndAName) {
  const Checked c = Check(R"([{"$secret": "api", "x": 1}, {"$secret": 5}, {"$secret": ""}])");
  ASSERT_EQ(c.violations.size(), 3u);
  EXPECT_EQ(c.violations[0].field, "tasks[2].input[0].x");
  EXPECT_EQ(c.violations[0].description,
            "Task 't': a $secret object has only the \"$secret\" member, not 'x'");
  EXPECT_EQ(c.violations[1].field, "tasks[2].input[1].$secret");
  EXPECT_EQ(c.violations[1].description,
            "Task 't': $secret must name a secret (a non-empty string)");
  EXPECT_EQ(c.violations[2].field, "tasks[2].input[2].$secret");
}

TEST(CheckInputRefsTest, SecretTemplatesAreNotTaskReferences) {
  FieldViolations violations;
  const bool any = CheckInputRefs(
      json::parse(R"({"h": "Bearer ${secret:api}"})"), [] { return std::string("input"); }, "t", {},
      [](absl::string_view) { return false; }, violations);
  EXPECT_FALSE(any);
  EXPECT_TRUE(violations.empty());
}

TEST(SubstituteSecretsTest, ObjectsBecomeStringsAndTemplatesText) {
  EXPECT_EQ(Attempt(R"({"h": "Bearer ${secret:api}", "k": {"$secret": "db"}, "n": [{"$secret":
                       "api"}], "same": "${secret:api}/${secret:api}", "none": "secret:api"})"),
            R"({"h":"Bearer sk-API","k":"pw$$DB","n":["sk-API"],"same":"sk-API/sk-API",)"
            R"("none":"secret:api"})");
  EXPECT_EQ(Attempt(R"({"$secret": "api"})"), R"("sk-API")");
}

TEST(SubstituteSecretsTest, AValueIsInsertedAsIsNeverReadAsATemplate) {
  // db's value holds "$$": it is text, not an escape.
  EXPECT_EQ(Attempt(R"({"h": "${secret:db}"})"), R"({"h":"pw$$DB"})");
}

TEST(SubstituteSecretsTest, EscapesNextToSecretTemplatesAreUnescapedOnce) {
  EXPECT_EQ(Attempt(R"({"a": "$${secret:api}", "b": "$$${secret:api}", "c": "${secret:api}$$",
                       "d": "$$$$ ${secret:api}", "e": "$$${secret:api}$${secret:api}"})"),
            R"({"a":"${secret:api}","b":"$sk-API","c":"sk-API$","d":"$$ sk-API",)"
            R"("e":"$sk-API${secret:api}"})");
}

TEST(SubstituteSecretsTest, WithDependencyTemplatesEveryDollarIsUnescapedOnce) {
  const std::map<std::string, std::string> outputs = {{"a", R"("x$$y")"}, {"n", "7"}};
  EXPECT_EQ(
      Attempt(R"({"u": "${a} $$ ${n} ${secret:api} $${n}", "v": "${a} $$ ${n} $${n}"})", outputs),
      R"({"u":"x$$y $ 7 sk-API ${n}","v":"x$$y $ 7 ${n}"})");
}

TEST(SubstituteSecretsTest, ADependencyOutputIsNeverReadAsASecretTemplate) {
  // A server's response must not be able to read a secret by echoing a template.
  const std::map<std::string, std::string> outputs = {{"a", R"("${secret:api}")"},
                                                      {"b", R"({"t": "${secret:api}"})"}};
  EXPECT_EQ(
      Attempt(R"({"with": "${a} and ${secret:db}", "without": "${a}", "whole": {"$ref":
                       "b"}, "ptr": {"$ref": "b", "path": "/t"}, "text": "${b}"})",
              outputs),
      R"({"with":"${secret:api} and pw$$DB","without":"${secret:api}",)"
      R"("whole":{"t":"${secret:api}"},"ptr":"${secret:api}","text":"{\"t\":\"${secret:api}\"}"})");
}

TEST(SubstituteSecretsTest, ADependencyOutputIsNeverReadAsASecretObject) {
  const std::map<std::string, std::string> outputs = {{"a", R"({"$secret": "api"})"},
                                                      {"b", R"([{"$secret": "api"}])"}};
  EXPECT_EQ(Attempt(R"({"x": {"$ref": "a"}, "y": {"$ref": "b", "path": ""}, "z": "${a}",
                       "k": {"$secret": "api"}})",
                    outputs),
            R"({"x":{"$secret":"api"},"y":[{"$secret":"api"}],"z":"{\"$secret\":\"api\"}",)"
            R"("k":"sk-API"})");
}

TEST(SubstituteSecretsTest, ASecretNoLongerDefinedFailsNamingIt) {
  const SecretStore store = Store();
  FieldViolations violations;
  const json::value input = json::parse(R"({"h": "${secret:api}"})");
  const SecretRefs refs = CheckSecretRefs(
      input, [] { return std::string("input"); }, "t", "http", store, violations);
  const absl::StatusOr<json::value> out = SubstituteSecrets(input, refs, SecretStore());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.status().message(), "secret 'api' is not defined (any more): check --secrets-file");
}

}  // namespace
}  // namespace batchd::core
