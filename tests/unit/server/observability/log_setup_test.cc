#include "server/observability/log_setup.h"

#include <spdlog/details/log_msg.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;

TEST(AppendJsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonString("say \"hi\"\\\n\t\x01 ok", out);
  EXPECT_EQ(out, R"("say \"hi\"\\\n\t\u0001 ok")");
}

TEST(AppendJsonStringTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  std::string out;
  AppendJsonString("caf\xC3\xA9 \xFF!", out);
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xEF\xBF\xBD!\"");
}

TEST(JsonLogFormatterTest, FormatsOneObjectPerLine) {
  JsonLogFormatter formatter;
  spdlog::details::log_msg msg("batchd", spdlog::level::warn, "a \"b\"\nc");
  spdlog::memory_buf_t buffer;
  formatter.format(msg, buffer);
  const std::string line(buffer.data(), buffer.size());
  EXPECT_THAT(line, HasSubstr(R"("level":"warning","logger":"batchd")"));
  EXPECT_THAT(line, HasSubstr(R"("msg":"a \"b\"\nc"})"));
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(ParseLogFormatTest, NamesTheFlagOnBadValues) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("xml").status().message(),
            "invalid --log-format 'xml': expected text or json");
}

}  // namespace
}  // namespace batchd::server
