#include "server/observability/address_announcement.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// 2026-11-26T09:00:00.123456Z
const std::chrono::system_clock::time_point kNow =
    std::chrono::system_clock::time_point(std::chrono::seconds(1795683600)) +
    std::chrono::microseconds(123456);

TEST(ListenerAnnouncementTest, TextLinesAreTheOnesScriptsAlreadyRead) {
  EXPECT_EQ(ListenerAnnouncement(LogFormat::kText, kGrpcListener, "127.0.0.1:5", kNow),
            "batchd listening on 127.0.0.1:5");
  EXPECT_EQ(ListenerAnnouncement(LogFormat::kText, kGrpcListener, "unix:/run/b.sock", kNow),
            "batchd listening on unix:/run/b.sock");
  EXPECT_EQ(ListenerAnnouncement(LogFormat::kText, kHttpListener, "127.0.0.1:6", kNow),
            "batchd http listening on http://127.0.0.1:6");
}

TEST(ListenerAnnouncementTest, JsonLineIsALogRecordWithListenerAndAddress) {
  const std::string line =
      ListenerAnnouncement(LogFormat::kJson, kGrpcListener, "127.0.0.1:5", kNow);
  EXPECT_THAT(line, MatchesRegex(R"(\{"ts":"2026-11-26T09:00:00\.123456Z","level":"info",)"
                                 R"("logger":"batchd","thread":[0-9]+,)"
                                 R"("msg":"batchd listening on 127\.0\.0\.1:5",)"
                                 R"("listener":"grpc","address":"127\.0\.0\.1:5"\})"));
  const boost::json::object http =
      boost::json::parse(ListenerAnnouncement(LogFormat::kJson, kHttpListener, "[::1]:6", kNow))
          .as_object();
  EXPECT_EQ(http.at("msg").as_string(), "batchd http listening on http://[::1]:6");
  EXPECT_EQ(http.at("listener").as_string(), "http");
  EXPECT_EQ(http.at("address").as_string(), "[::1]:6");
  EXPECT_EQ(http.at("level").as_string(), "info");
}

TEST(ListenerAnnouncementTest, JsonEscapesAUnixPathWithQuotes) {
  const std::string line =
      ListenerAnnouncement(LogFormat::kJson, kGrpcListener, "unix:/tmp/a\"b\n", kNow);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(boost::json::parse(line).at("address").as_string(), "unix:/tmp/a\"b\n");
}

TEST(AddressFileContentsTest, OneKeyPerListenerInOrder) {
  EXPECT_EQ(AddressFileContents({{"grpc", "127.0.0.1:5"}, {"http", "127.0.0.1:6"}}),
            R"({"grpc":"127.0.0.1:5","http":"127.0.0.1:6"})");
  EXPECT_EQ(AddressFileContents({{"grpc", "unix:/run/b.sock"}}), R"({"grpc":"unix:/run/b.sock"})");
}

class AddressFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/address-file-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    ::unlink((dir_ + "/addresses.json.tmp").c_str());
    ::unlink((dir_ + "/addresses.json").c_str());
    ::rmdir(dir_.c_str());
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

  std::string dir_;
};

TEST_F(AddressFileTest, WrittenWholeWithoutTheTemporaryAndRemoved) {
  const std::string path = dir_ + "/addresses.json";
  ASSERT_TRUE(WriteAddressFile(path, {{"grpc", "127.0.0.1:5"}}).ok());
  EXPECT_EQ(Read(path), "{\"grpc\":\"127.0.0.1:5\"}\n");
  // A second write replaces it whole.
  ASSERT_TRUE(WriteAddressFile(path, {{"grpc", "127.0.0.1:7"}, {"http", "127.0.0.1:8"}}).ok());
  EXPECT_EQ(Read(path), "{\"grpc\":\"127.0.0.1:7\",\"http\":\"127.0.0.1:8\"}\n");
  EXPECT_FALSE(Exists(path + ".tmp"));
  RemoveAddressFile(path);
  EXPECT_FALSE(Exists(path));
  RemoveAddressFile(path);  // gone already: nothing happens
}

TEST_F(AddressFileTest, UnwritableDirectoryIsUnavailableNamingTheFlag) {
  const std::string path = dir_ + "/missing/addresses.json";
  const absl::Status status = WriteAddressFile(path, {{"grpc", "127.0.0.1:5"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("cannot write --address-file " + path + ": "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("No such file or directory"));
}

TEST_F(AddressFileTest, EmptyPathWritesNothing) {
  EXPECT_TRUE(WriteAddressFile("", {{"grpc", "127.0.0.1:5"}}).ok());
  RemoveAddressFile("");
}

}  // namespace
}  // namespace batchd::server
