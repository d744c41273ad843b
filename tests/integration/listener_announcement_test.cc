// What batchd tells scripts about its listeners, against the real daemon: with
// --log-format=json every stdout and stderr line is a JSON object, the announcement carries the
// address that serves, and --address-file holds the same addresses until a clean shutdown.
#include <arpa/inet.h>
#include <grpcpp/client_context.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each non-empty line of `text` parsed; a line that is not a JSON object fails the test.
std::vector<boost::json::object> JsonLines(const std::string& text, const char* stream) {
  std::vector<boost::json::object> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    boost::system::error_code ec;
    boost::json::value v =
        boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << stream << " line is not a JSON object: " << line;
      continue;
    }
    const boost::json::object& o = v.as_object();
    EXPECT_TRUE(o.contains("ts") && o.contains("level") && o.contains("msg")) << line;
    out.push_back(o);
  }
  return out;
}

class ListenerAnnouncementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("listener-announcement");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    address_file_ = dir_ + "/addresses.json";
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  // Waits (bounded) for the address file and returns it parsed.
  boost::json::object WaitForAddressFile() {
    const absl::Time deadline = absl::Now() + kWait;
    while (!Exists(address_file_) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(ReadFile(address_file_), ec);
    EXPECT_FALSE(ec) << ReadFile(address_file_);
    return !ec && v.is_object() ? v.as_object() : boost::json::object();
  }

  void StopCleanly(DaemonProcess& daemon) {
    ASSERT_TRUE(daemon.SendSignal(SIGTERM).ok());
    absl::StatusOr<int> exit_code = daemon.WaitForExit(kWait);
    ASSERT_TRUE(exit_code.ok()) << exit_code.status();
    EXPECT_EQ(*exit_code, 0) << daemon.Stderr();
  }

  std::string dir_;
  std::string address_file_;
};

TEST_F(ListenerAnnouncementTest, JsonLogsMakeEveryLineJsonAndTheAddressFileNamesWhatServes) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started = DaemonProcess::Start(
      {"--log-format=json", "--address-file=" + address_file_, "--listen=127.0.0.1:0"});
  ASSERT_TRUE(started.ok()) << started.status();
  DaemonProcess& daemon = **started;
  const std::string address = daemon.address();
  ASSERT_TRUE(absl::StartsWith(address, "127.0.0.1:")) << address;
  uint32_t port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.find(':') + 1), &port));
  EXPECT_NE(port, 0u);

  // The announced address serves.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::health::v1::HealthCheckResponse health;
  ASSERT_TRUE(daemon.NewHealthStub()->Check(&context, {}, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  const boost::json::object file = WaitForAddressFile();
  EXPECT_EQ(file.size(), 1u) << boost::json::serialize(file);
  ASSERT_TRUE(file.contains("grpc"));
  EXPECT_EQ(file.at("grpc").as_string(), address);
  EXPECT_FALSE(Exists(address_file_ + ".tmp"));

  StopCleanly(daemon);
  EXPECT_FALSE(Exists(address_file_));

  const std::vector<boost::json::object> out = JsonLines(daemon.Stdout(), "stdout");
  ASSERT_EQ(out.size(), 1u) << daemon.Stdout();
  EXPECT_EQ(out[0].at("level").as_string(), "info");
  EXPECT_EQ(out[0].at("listener").as_string(), "grpc");
  EXPECT_EQ(out[0].at("address").as_string(), address);
  EXPECT_EQ(out[0].at("msg").as_string(), "batchd listening on " + address);
  const std::vector<boost::json::object> err = JsonLines(daemon.Stderr(), "stderr");
  EXPECT_GE(err.size(), 3u);  // journal, listening, received SIGTERM, stopped
  EXPECT_THAT(daemon.Stderr(), HasSubstr("batchd stopped"));
}

TEST_F(ListenerAnnouncementTest, AddressFileNamesTheHttpListenerToo) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started =
      DaemonProcess::Start({"--address-file=" + address_file_, "--http-listen=127.0.0.1:0"});
  ASSERT_TRUE(started.ok()) << started.status();
  DaemonProcess& daemon = **started;
  const boost::json::object file = WaitForAddressFile();
  ASSERT_TRUE(file.contains("grpc") && file.contains("http")) << boost::json::serialize(file);
  EXPECT_EQ(file.at("grpc").as_string(), daemon.address());
  const std::string http(file.at("http").as_string());
  ASSERT_TRUE(absl::StartsWith(http, "127.0.0.1:")) << http;
  EXPECT_NE(http, daemon.address());

  // The HTTP address serves: GET /healthz.
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(http.substr(http.find(':') + 1), &port));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  ::close(fd);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200")) << response;

  StopCleanly(daemon);
  EXPECT_FALSE(Exists(address_file_));
}

TEST_F(ListenerAnnouncementTest, UnwritableAddressFileFailsTheStartWithAJsonLine) {
  const std::string path = dir_ + "/missing/addresses.json";
  absl::StatusOr<testing::CommandResult> run =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--log-format=json", "--durability=none",
                           "--listen=127.0.0.1:0", "--address-file=" + path},
                          kWait);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 1) << run->stderr_text;
  JsonLines(run->stdout_text, "stdout");
  const std::vector<boost::json::object> err = JsonLines(run->stderr_text, "stderr");
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.back().at("level").as_string(), "critical");
  EXPECT_THAT(std::string(err.back().at("msg").as_string()),
              HasSubstr("cannot write --address-file " + path));
}

}  // namespace
}  // namespace batchd
