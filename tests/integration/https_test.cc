// The http executor's https:// through the real daemon, against a local HTTPS server with
// certificates openssl makes for the test: a certificate from the CA given as --http-ca-file
// is accepted (by IP address and by name, SNI included); one from a CA nothing trusts, one for
// another name and a server that speaks no TLS fail at once, not retried, with a message naming
// the server and the reason; a bad --http-ca-file stops batchd with exit 2. Loopback only.
#include <grpcpp/client_context.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/http_test_server.h"
#include "tests/testing/proxy_test_server.h"
#include "tests/testing/test_certificates.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::batchd::testing::HttpTestServer;
using ::batchd::testing::TestCertificates;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kCallTimeout{60};

HttpTestServer::Reply Json(std::string body) {
  HttpTestServer::Reply reply;
  reply.headers = {{"Content-Type", "application/json"}};
  reply.body = std::move(body);
  return reply;
}

class HttpsTest : public ::testing::Test {
 protected:
  // Certificates and one daemon trusting the test CA, for the whole program.
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-https");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new std::string(*dir);
    absl::StatusOr<TestCertificates> certs = testing::MakeTestCertificates(*dir_);
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = new TestCertificates(*certs);
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
        DaemonProcess::Start({"--http-ca-file=" + certs_->ca});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = daemon->release();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete certs_;
    if (dir_ != nullptr) testing::RemoveTree(*dir_);
    delete dir_;
  }
  void TearDown() override {
    if (HasFailure() && daemon_ != nullptr) std::cerr << "batchd stderr:\n" << daemon_->Stderr();
  }

  void ServeTls(const std::string& cert, const std::string& key) {
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server = HttpTestServer::StartTls(
        [](const HttpTestServer::Request& request) {
          return Json(absl::StrCat(R"({"path": ")", request.target, R"(", "host": ")",
                                   request.Header("host"), "\"}"));
        },
        cert, key);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // One http task for `url` with three retries allowed, run to its end.
  static v1::TaskResult Get(const std::string& url) {
    v1::ProcessBatchRequest request;
    v1::Task* task = request.add_tasks();
    task->set_id("get");
    task->set_executor("http");
    (*task->mutable_input()->mutable_struct_value()->mutable_fields())["url"].set_string_value(url);
    task->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
    task->mutable_retry_policy()->set_initial_delay_ms(10);
    task->mutable_retry_policy()->set_max_retries(3);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    const grpc::Status status = daemon_->NewBatchStub()->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.summary().results_size() == 1 ? response.summary().results(0)
                                                  : v1::TaskResult();
  }
  std::string UrlOnLocalhost(const std::string& target) const {
    return absl::StrReplaceAll(server_->Url(target), {{"127.0.0.1", "localhost"}});
  }
  std::string Endpoint(const std::string& host) const {
    return absl::StrCat(host, ":", server_->port());
  }

  static std::string* dir_;
  static TestCertificates* certs_;
  static DaemonProcess* daemon_;
  std::unique_ptr<HttpTestServer> server_;
};

std::string* HttpsTest::dir_ = nullptr;
TestCertificates* HttpsTest::certs_ = nullptr;
DaemonProcess* HttpsTest::daemon_ = nullptr;

TEST_F(HttpsTest, ACertificateFromTheGivenCaIsAcceptedByAddressAndByName) {
  ServeTls(certs_->server_cert, certs_->server_key);
  const v1::TaskResult by_address = Get(server_->Url("/a?x=1"));
  ASSERT_EQ(by_address.state(), v1::TASK_STATE_SUCCEEDED) << by_address.error();
  EXPECT_EQ(by_address.output().struct_value().fields().at("status").number_value(), 200);
  const auto& body = by_address.output().struct_value().fields().at("body").struct_value();
  EXPECT_EQ(body.fields().at("path").string_value(), "/a?x=1");
  EXPECT_EQ(body.fields().at("host").string_value(), Endpoint("127.0.0.1"));

  const v1::TaskResult by_name = Get(UrlOnLocalhost("/b"));
  ASSERT_EQ(by_name.state(), v1::TASK_STATE_SUCCEEDED) << by_name.error();
  EXPECT_EQ(by_name.output()
                .struct_value()
                .fields()
                .at("body")
                .struct_value()
                .fields()
                .at("host")
                .string_value(),
            Endpoint("localhost"));
  EXPECT_EQ(server_->handshake_failures(), 0u);
}

TEST_F(HttpsTest, ACertificateFromAnUntrustedCaFailsAtOnceNamingTheServer) {
  ServeTls(certs_->rogue_server_cert, certs_->rogue_server_key);
  const v1::TaskResult result = Get(server_->Url("/"));
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(result.error(), absl::StrCat("http: TLS: the certificate of ", Endpoint("127.0.0.1"),
                                         " is not accepted: unable to get local issuer "
                                         "certificate"));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(HttpsTest, ACertificateForAnotherNameFailsAtOnce) {
  ServeTls(certs_->elsewhere_cert, certs_->elsewhere_key);
  const v1::TaskResult by_name = Get(UrlOnLocalhost("/"));
  EXPECT_EQ(by_name.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(by_name.retry_count(), 0u);
  EXPECT_EQ(by_name.error(), absl::StrCat("http: TLS: the certificate of ", Endpoint("localhost"),
                                          " is not accepted: hostname mismatch"));
  const v1::TaskResult by_address = Get(server_->Url("/"));
  EXPECT_EQ(by_address.error(),
            absl::StrCat("http: TLS: the certificate of ", Endpoint("127.0.0.1"),
                         " is not accepted: IP address mismatch"));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(HttpsTest, ARedirectFromHttpsToHttpIsRefused) {
  absl::StatusOr<std::unique_ptr<HttpTestServer>> plain =
      HttpTestServer::Start([](const HttpTestServer::Request&) { return Json("{}"); });
  ASSERT_TRUE(plain.ok());
  const std::string downgrade = (*plain)->Url("/");
  absl::StatusOr<std::unique_ptr<HttpTestServer>> server = HttpTestServer::StartTls(
      [downgrade](const HttpTestServer::Request&) {
        HttpTestServer::Reply reply;
        reply.status = 302;
        reply.headers = {{"Location", downgrade}};
        return reply;
      },
      certs_->server_cert, certs_->server_key);
  ASSERT_TRUE(server.ok());
  server_ = *std::move(server);
  const v1::TaskResult result = Get(server_->Url("/up"));
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(result.error(), absl::StrCat("http: ", server_->Url("/up"), " redirects to ", downgrade,
                                         ": a redirect from https:// to http:// is not followed"));
  EXPECT_TRUE((*plain)->requests().empty());
}

// What a plain HTTP server answers a TLS ClientHello with (as nginx does): a 400 in clear text.
TEST_F(HttpsTest, AServerThatSpeaksNoTlsFailsTheHandshakeAtOnce) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  std::thread plain([&acceptor] {
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket socket = acceptor.accept(ec);
    if (ec) return;
    char hello[512];
    socket.read_some(boost::asio::buffer(hello), ec);
    static constexpr char kAnswer[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(kAnswer, sizeof kAnswer - 1), ec);
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  });
  const v1::TaskResult result = Get(absl::StrCat("https://127.0.0.1:", port, "/"));
  plain.join();
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_THAT(result.error(), ::testing::StartsWith(absl::StrCat(
                                  "http: TLS handshake with 127.0.0.1:", port, " failed: ")));
}

TEST_F(HttpsTest, ABadCaFileStopsBatchdNamingIt) {
  const std::string missing = *dir_ + "/missing.pem";
  absl::StatusOr<testing::CommandResult> run =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--durability=none",
                           "--http-ca-file=" + missing},
                          absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text, HasSubstr(absl::StrCat("invalid --http-ca-file '", missing,
                                                       "': No such file or directory")));

  const std::string not_pem = *dir_ + "/not.pem";
  std::ofstream(not_pem) << "not a certificate\n";
  run = testing::RunCommand({DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0",
                             "--durability=none", "--http-ca-file=" + not_pem},
                            absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text,
              HasSubstr(absl::StrCat("--http-ca-file: cannot load CA certificates from '", not_pem,
                                     "': ")));
}

// A daemon of its own for each test below: flags or the environment differ.
class HttpsTransportTest : public HttpsTest {
 protected:
  void StartDaemon(const std::vector<std::string>& flags,
                   const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {"--http-ca-file=" + certs_->ca};
    all.insert(all.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
        DaemonProcess::Start(all, DaemonProcess::kDefaultReadyTimeout, env);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    own_ = *std::move(daemon);
  }
  void TearDown() override {
    if (HasFailure() && own_ != nullptr) std::cerr << "batchd stderr:\n" << own_->Stderr();
  }
  v1::ProcessBatchResponse Run(const v1::ProcessBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    const grpc::Status status = own_->NewBatchStub()->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  static void AddGet(v1::ProcessBatchRequest& request, const std::string& id,
                     const std::string& url) {
    v1::Task* task = request.add_tasks();
    task->set_id(id);
    task->set_executor("http");
    (*task->mutable_input()->mutable_struct_value()->mutable_fields())["url"].set_string_value(url);
  }

  std::unique_ptr<DaemonProcess> own_;
};

TEST_F(HttpsTransportTest, AThousandRequestsShareAtMostThePoolsConnections) {
  StartDaemon({"--http-max-connections-per-host=8"});
  ServeTls(certs_->server_cert, certs_->server_key);
  v1::ProcessBatchRequest request;
  request.mutable_options()->set_max_concurrent(100);
  for (int i = 0; i < 1000; ++i) AddGet(request, absl::StrCat("t", i), server_->Url("/x"));
  const v1::ProcessBatchResponse response = Run(request);
  ASSERT_EQ(response.summary().results_size(), 1000);
  for (const v1::TaskResult& result : response.summary().results()) {
    ASSERT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.error();
  }
  EXPECT_EQ(server_->requests().size(), 1000u);
  EXPECT_GE(server_->accepts(), 1u);
  EXPECT_LE(server_->accepts(), 8u);
  EXPECT_EQ(server_->handshake_failures(), 0u);
}

TEST_F(HttpsTransportTest, WithoutKeepAliveEachRequestHasItsOwnConnection) {
  StartDaemon({"--http-idle-timeout=0"});
  ServeTls(certs_->server_cert, certs_->server_key);
  v1::ProcessBatchRequest request;
  for (int i = 0; i < 20; ++i) AddGet(request, absl::StrCat("t", i), server_->Url("/x"));
  const v1::ProcessBatchResponse response = Run(request);
  ASSERT_EQ(response.summary().results_size(), 20);
  EXPECT_EQ(server_->accepts(), 20u);
  ASSERT_EQ(server_->requests().size(), 20u);
  EXPECT_EQ(server_->requests()[0].Header("connection"), "close");
}

TEST_F(HttpsTransportTest, HttpsGoesThroughTheProxyInACONNECTTunnelVerifiedEndToEnd) {
  absl::StatusOr<std::unique_ptr<testing::ProxyTestServer>> proxy =
      testing::ProxyTestServer::Start({});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  StartDaemon({}, {"HTTPS_PROXY=" + (*proxy)->Url(), "NO_PROXY=internal.example"});
  EXPECT_THAT(own_->Stderr(),
              HasSubstr(absl::StrCat("http executor: proxies: https:// via 127.0.0.1:",
                                     (*proxy)->port(), ", not for: internal.example")));
  ServeTls(certs_->server_cert, certs_->server_key);
  v1::ProcessBatchRequest request;
  AddGet(request, "a", UrlOnLocalhost("/one"));
  AddGet(request, "b", UrlOnLocalhost("/two"));
  request.mutable_options()->set_max_concurrent(1);
  const v1::ProcessBatchResponse response = Run(request);
  ASSERT_EQ(response.summary().results_size(), 2);
  for (const v1::TaskResult& result : response.summary().results()) {
    ASSERT_EQ(result.state(), v1::TASK_STATE_SUCCEEDED) << result.error();
  }
  const std::vector<testing::ProxyTestServer::Request> seen = (*proxy)->requests();
  ASSERT_EQ(seen.size(), 1u);  // one tunnel, kept alive for the second request
  EXPECT_EQ(seen[0].method, "CONNECT");
  EXPECT_EQ(seen[0].target, Endpoint("localhost"));
  EXPECT_EQ(server_->requests().size(), 2u);
  EXPECT_EQ(server_->handshake_failures(), 0u);
}

TEST_F(HttpsTransportTest, AProxyRefusingTheTunnelFailsTheTaskAtOnceNamingBoth) {
  absl::StatusOr<std::unique_ptr<testing::ProxyTestServer>> proxy =
      testing::ProxyTestServer::Start({.refuse_connect = true});
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  StartDaemon({}, {"HTTPS_PROXY=" + (*proxy)->Url()});
  ServeTls(certs_->server_cert, certs_->server_key);
  v1::ProcessBatchRequest request;
  AddGet(request, "a", server_->Url("/"));
  request.mutable_tasks(0)->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
  request.mutable_tasks(0)->mutable_retry_policy()->set_max_retries(3);
  const v1::ProcessBatchResponse response = Run(request);
  ASSERT_EQ(response.summary().results_size(), 1);
  const v1::TaskResult& result = response.summary().results(0);
  EXPECT_EQ(result.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(result.retry_count(), 0u);
  EXPECT_EQ(result.error(),
            absl::StrCat("http: the proxy 127.0.0.1:", (*proxy)->port(), " refused CONNECT to ",
                         Endpoint("127.0.0.1"), ": 403 Forbidden"));
  EXPECT_THAT(server_->requests(), ::testing::IsEmpty());
}

TEST_F(HttpsTest, BadPoolFlagsOrProxiesStopBatchdNamingThem) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--http-idle-timeout=-1s"}, "invalid --http-idle-timeout -1s: must not be negative"},
      {{"--http-dns-timeout=0"}, "invalid --http-dns-timeout 0: must be positive"},
      {{"--http-max-connections=0"}, "must be at least 1"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> argv = {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0",
                                     "--durability=none"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<testing::CommandResult> run = testing::RunCommand(argv, absl::Seconds(30));
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->exit_code, 2) << flags[0];
    EXPECT_THAT(run->stderr_text, HasSubstr(message));
  }
  absl::StatusOr<testing::CommandResult> run = testing::RunCommand(
      {DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--durability=none"}, absl::Seconds(30),
      {"HTTPS_PROXY=https://proxy.example:3128"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 2);
  EXPECT_THAT(run->stderr_text,
              HasSubstr("invalid HTTPS_PROXY: TLS to the proxy is not supported"));
}

}  // namespace
}  // namespace batchd
