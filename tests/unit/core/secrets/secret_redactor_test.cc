// SecretRedactor: every occurrence of a used secret's value, in text, JSON strings and object
// keys, becomes "[secret:<name>]"; longer values first; short values too; unused secrets are
// left alone.
#include "core/secrets/secret_redactor.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

class SecretRedactorTest : public ::testing::Test {
 protected:
  SecretRedactorTest() {
    EXPECT_TRUE(store_.Add("api", "sk-API", {"http"}).ok());
    EXPECT_TRUE(store_.Add("long", "sk-API-and-more", {"http"}).ok());
    EXPECT_TRUE(store_.Add("pin", "42", {"http"}).ok());
    EXPECT_TRUE(store_.Add("unused", "zzz", {"http"}).ok());
    refs_.names = {"api", "long", "pin"};
  }
  SecretStore store_;
  SecretRefs refs_;
};

TEST_F(SecretRedactorTest, ReplacesEveryOccurrenceInText) {
  const SecretRedactor redactor(refs_, store_);
  std::string error = "HTTP 401: bad key sk-API (sk-API), pin 42, zzz";
  EXPECT_TRUE(redactor.Redact(error));
  EXPECT_EQ(error, "HTTP 401: bad key [secret:api] ([secret:api]), pin [secret:pin], zzz");
  std::string clean = "nothing here";
  EXPECT_FALSE(redactor.Redact(clean));
  EXPECT_EQ(clean, "nothing here");
}

TEST_F(SecretRedactorTest, ALongerValueHoldingAShorterOneIsReplacedWhole) {
  const SecretRedactor redactor(refs_, store_);
  std::string text = "sk-API-and-more sk-API";
  redactor.Redact(text);
  EXPECT_EQ(text, "[secret:long] [secret:api]");
}

TEST_F(SecretRedactorTest, ReplacesInEveryStringAndKeyOfJson) {
  const SecretRedactor redactor(refs_, store_);
  json::value output = json::parse(
      R"({"status": 401, "body": {"echo": "Bearer sk-API", "sk-API": [1, "x42x", 42],
          "n": null}, "headers": {"x": "ok"}})");
  EXPECT_TRUE(redactor.Redact(output));
  EXPECT_EQ(json::serialize(output),
            R"({"status":401,"body":{"echo":"Bearer [secret:api]","[secret:api]":[1,)"
            R"("x[secret:pin]x",42],"n":null},"headers":{"x":"ok"}})");
  json::value clean = json::parse(R"({"a": ["b", 1]})");
  EXPECT_FALSE(redactor.Redact(clean));
}

TEST_F(SecretRedactorTest, WithoutUsedSecretsNothingChanges) {
  const SecretRedactor redactor(SecretRefs{}, store_);
  std::string text = "sk-API";
  EXPECT_FALSE(redactor.Redact(text));
  EXPECT_EQ(text, "sk-API");
}

}  // namespace
}  // namespace batchd::core
