// Secrets in the real daemon (--secrets-file) against a local HTTP server started by the test: the
// server receives the value, while the result, the journal files, the daemon's log (at debug) and
// /metrics hold only "[secret:<name>]" or nothing; an unknown secret refuses the batch at submit;
// shell reads a secret only when it lists shell, through the env it is given; a directory of files
// works as a file does. Loopback only; waits bounded and generous.
#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/http_test_server.h"

namespace batchd {
namespace {

namespace fs = std::filesystem;
using ::batchd::testing::DaemonProcess;
using ::batchd::testing::HttpTestServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::seconds kCallTimeout{60};
constexpr char kValue[] = "sk-test-4f9a8c2e71";
constexpr char kOtherValue[] = "db-pass-77b1e0";

// Every file under `dir`, concatenated (the journal's database, its WAL and anything beside).
std::string ReadTree(const std::string& dir) {
  std::string all;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

// The metrics address the daemon logged ("metrics on http://HOST:PORT/metrics").
std::string MetricsAddress(const DaemonProcess& daemon) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  const std::regex pattern("metrics on http://([0-9.]+):([0-9]+)/metrics");
  while (absl::Now() < deadline) {
    std::smatch match;
    const std::string text = daemon.Stderr();
    if (std::regex_search(text, match, pattern)) {
      return absl::StrCat(match[1].str(), ":", match[2].str());
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return "";
}

// GET /metrics over a plain socket: the whole response ("" on failure).
std::string ScrapeMetrics(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port)) {
    return "";
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET /metrics HTTP/1.1\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n = 0;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

const google::protobuf::Value& Field(const google::protobuf::Value& v, const std::string& name) {
  return v.struct_value().fields().at(name);
}

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-secrets");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    fs::create_directories(DataDir());
    // The server answers with what it was sent: 200 for /ok, 401 (the key in the body) for /deny.
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server =
        HttpTestServer::Start([](const HttpTestServer::Request& request) {
          HttpTestServer::Reply reply;
          reply.status = request.target == "/deny" ? 401 : 200;
          reply.headers = {{"Content-Type", "application/json"}};
          reply.body =
              absl::StrCat(R"({"authorization": ")", request.Header("authorization"),
                           R"(", "error": "key )", request.Header("x-key"), R"( is not valid"})");
          return reply;
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    if (HasFailure() && daemon_ != nullptr) std::cerr << "batchd stderr:\n" << daemon_->Stderr();
    daemon_.reset();
    testing::RemoveTree(dir_);
  }

  std::string DataDir() const { return dir_ + "/data"; }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  void StartDaemon(const std::string& secrets, std::vector<std::string> flags = {}) {
    flags.insert(flags.end(), {"--secrets-file=" + secrets, "--data-dir=" + DataDir(),
                               "--log-level=debug", "--metrics-listen=127.0.0.1:0"});
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    batches_ = daemon_->NewBatchStub();
  }

  // ProcessBatch with the request as JSON ("{{server}}" is the test server's URL).
  grpc::Status Process(const std::string& json, v1::ProcessBatchResponse* response) {
    v1::ProcessBatchRequest request;
    const std::string text = absl::StrReplaceAll(json, {{"{{server}}", server_->Url("")}});
    const auto parsed = google::protobuf::util::JsonStringToMessage(text, &request);
    EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << text;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    return batches_->ProcessBatch(&context, request, response);
  }

  std::string dir_;
  std::unique_ptr<HttpTestServer> server_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::BatchService::Stub> batches_;
};

TEST_F(SecretsTest, TheServerGetsTheValueAndNothingTheDaemonKeepsHoldsIt) {
  StartDaemon(Write("secrets.json", absl::StrCat(R"({"api": ")", kValue, R"(", "db": {"value": ")",
                                                 kOtherValue, R"(", "executors": ["http"]}})")));
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(R"({"tasks": [
      {"id": "ok", "executor": "http", "input": {"url": "{{server}}/ok",
       "headers": {"Authorization": "Bearer ${secret:api}", "X-Key": {"$secret": "db"}}}},
      {"id": "deny", "executor": "http", "input": {"url": "{{server}}/deny",
       "headers": {"Authorization": "Bearer ${secret:api}", "X-Key": "${secret:db}"}}}]})",
                                      &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();

  ASSERT_EQ(server_->requests().size(), 2u);
  for (const HttpTestServer::Request& request : server_->requests()) {
    EXPECT_EQ(request.Header("authorization"), absl::StrCat("Bearer ", kValue));
    EXPECT_EQ(request.Header("x-key"), kOtherValue);
  }
  ASSERT_EQ(response.summary().results_size(), 2) << response.DebugString();
  for (const v1::TaskResult& r : response.summary().results()) {
    const google::protobuf::Value& body = Field(r.output(), "body");
    EXPECT_EQ(Field(body, "authorization").string_value(), "Bearer [secret:api]")
        << r.DebugString();
    EXPECT_EQ(Field(body, "error").string_value(), "key [secret:db] is not valid");
    if (r.task_id() == "deny") {
      EXPECT_EQ(r.state(), v1::TASK_STATE_FAILED);
      EXPECT_THAT(r.error(), HasSubstr("http: 401"));
    } else {
      EXPECT_EQ(r.state(), v1::TASK_STATE_SUCCEEDED);
    }
  }
  const std::string everything = response.DebugString();
  EXPECT_THAT(everything, Not(HasSubstr(kValue)));
  EXPECT_THAT(everything, Not(HasSubstr(kOtherValue)));

  const std::string metrics = MetricsAddress(*daemon_);
  ASSERT_FALSE(metrics.empty());
  const std::string scraped = ScrapeMetrics(metrics);
  EXPECT_THAT(scraped, HasSubstr("batchd_"));
  EXPECT_THAT(scraped, Not(HasSubstr(kValue)));
  EXPECT_THAT(scraped, Not(HasSubstr(kOtherValue)));
  const std::string journal = ReadTree(DataDir());
  EXPECT_THAT(journal, HasSubstr("${secret:api}"));  // the batch as submitted is journaled
  EXPECT_THAT(journal, HasSubstr("[secret:api]"));   // and its redacted results
  EXPECT_THAT(journal, Not(HasSubstr(kValue)));
  EXPECT_THAT(journal, Not(HasSubstr(kOtherValue)));
  const std::string log = daemon_->Stderr();
  EXPECT_THAT(log, HasSubstr("secrets: 2 defined (api, db)"));
  EXPECT_THAT(log, Not(HasSubstr(kValue)));
  EXPECT_THAT(log, Not(HasSubstr(kOtherValue)));
}

TEST_F(SecretsTest, AnUnknownSecretIsRefusedAtSubmit) {
  StartDaemon(Write("secrets.json", absl::StrCat(R"({"api": ")", kValue, R"("})")));
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(R"({"tasks": [
      {"id": "a", "executor": "http", "input": {"url": "{{server}}/ok",
       "headers": {"Authorization": "Bearer ${secret:openai}"}}}]})",
                                      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("unknown secret 'openai' (the daemon's --secrets-file defines: api)"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr(kValue)));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(SecretsTest, EchoMayNotReadAnHttpSecret) {
  StartDaemon(Write("secrets.json", absl::StrCat(R"({"api": ")", kValue, R"("})")));
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(
      R"({"tasks": [{"id": "e", "executor": "echo", "input": "${secret:api}"}]})", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("executor 'echo' may not read secret 'api'"));
}

TEST_F(SecretsTest, ShellReadsOnlyASecretThatListsItThroughItsEnvironment) {
  StartDaemon(Write("secrets.json", absl::StrCat(R"({"api": ")", kValue, R"(", "db": {"value": ")",
                                                 kOtherValue, R"(", "executors": ["shell"]}})")),
              {"--enable-shell"});
  v1::ProcessBatchResponse response;
  grpc::Status status = Process(R"({"tasks": [{"id": "s", "executor": "shell", "input": {
      "argv": ["/bin/sh", "-c", "printf '%s|' \"$TOKEN\"; printf '%s' \"$TOKEN\" | wc -c"],
      "env": {"TOKEN": "${secret:db}"}}}]})",
                                &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_EQ(response.summary().results_size(), 1);
  const v1::TaskResult& r = response.summary().results(0);
  EXPECT_EQ(r.state(), v1::TASK_STATE_SUCCEEDED) << r.DebugString();
  // The program saw the value (its length), and what it printed of it is redacted.
  EXPECT_EQ(Field(r.output(), "stdout").string_value(),
            absl::StrCat("[secret:db]|", sizeof(kOtherValue) - 1, "\n"));
  EXPECT_THAT(ReadTree(DataDir()), Not(HasSubstr(kOtherValue)));

  status = Process(R"({"tasks": [{"id": "s", "executor": "shell", "input": {
      "argv": ["/bin/true"], "env": {"TOKEN": "${secret:api}"}}}]})",
                   &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("executor 'shell' may not read secret 'api' "
                                                "(readable by: http;"));
}

TEST_F(SecretsTest, ADirectoryOfFilesDefinesOneSecretEach) {
  Write("mounted/api", absl::StrCat(kValue, "\n"));
  Write("mounted/db", kOtherValue);
  StartDaemon(dir_ + "/mounted");
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(R"({"tasks": [
      {"id": "ok", "executor": "http", "input": {"url": "{{server}}/ok",
       "headers": {"Authorization": "Bearer ${secret:api}", "X-Key": "${secret:db}"}}}]})",
                                      &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].Header("authorization"), absl::StrCat("Bearer ", kValue));
  EXPECT_EQ(server_->requests()[0].Header("x-key"), kOtherValue);
  ASSERT_EQ(response.summary().results_size(), 1);
  EXPECT_EQ(
      Field(Field(response.summary().results(0).output(), "body"), "authorization").string_value(),
      "Bearer [secret:api]");
}

TEST_F(SecretsTest, AnUnreadableSecretsFileStopsTheDaemonNamingTheFlag) {
  const absl::StatusOr<testing::CommandResult> run =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--secrets-file=" + dir_ + "/nope.json",
                           "--data-dir=" + DataDir(), "--listen=127.0.0.1:0"},
                          absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text, HasSubstr("--secrets-file"));
  EXPECT_THAT(run->stderr_text, HasSubstr("nope.json"));
}

}  // namespace
}  // namespace batchd
