// Listening and authentication of the real daemon: the bearer token (BatchService and
// WorkerService need it, Health does not), TLS and mTLS with certificates openssl makes for the
// test, unix sockets (mode, stale file, live daemon, regular file), the guard against serving a
// non-loopback address without protection, configuration from BATCHD_* variables and flag
// files, and batchctl (--token-file, --tls-*, worker) against all of it. Every wait is bounded.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/test_certificates.h"

#ifndef BATCHCTL_BINARY
#error "BATCHCTL_BINARY must name the batchctl binary (see tests/integration/CMakeLists.txt)"
#endif

namespace batchd {
namespace {

using ::batchd::testing::ChildProcess;
using ::batchd::testing::CommandResult;
using ::batchd::testing::DaemonProcess;
using ::batchd::testing::RunCommand;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kCallTimeout{30};
constexpr absl::Duration kCommandTimeout = absl::Seconds(60);
constexpr char kToken[] = "test-token-0123456789abcdef";
constexpr char kRejected[] = "missing or invalid bearer token";

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
}

// A directory of its own for each test, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = absl::StrCat(::testing::TempDir(), "batchd-sec-XXXXXX");
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

using Certificates = ::batchd::testing::TestCertificates;

absl::StatusOr<Certificates> MakeCertificates(const std::string& dir) {
  return ::batchd::testing::MakeTestCertificates(dir);
}

std::shared_ptr<grpc::Channel> PlaintextChannel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// A TLS channel trusting `ca`, presenting `cert`/`key` when given.
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address, const std::string& ca,
                                          const std::string& cert = "",
                                          const std::string& key = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(ca);
  if (!cert.empty()) {
    ssl.pem_cert_chain = ReadFile(cert);
    ssl.pem_private_key = ReadFile(key);
  }
  return grpc::CreateChannel(address, grpc::SslCredentials(ssl));
}

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  SetDeadline(&context);
  HealthCheckResponse response;
  grpc::Status status =
      grpc::health::v1::Health::NewStub(channel)->Check(&context, HealthCheckRequest(), &response);
  if (status.ok() && response.status() != HealthCheckResponse::SERVING) {
    return {grpc::StatusCode::UNKNOWN, "not SERVING"};
  }
  return status;
}

// ListExecutors with `authorization` as the header, none when empty.
grpc::Status ListExecutors(const std::shared_ptr<grpc::Channel>& channel,
                           const std::string& authorization) {
  grpc::ClientContext context;
  SetDeadline(&context);
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  v1::ListExecutorsResponse response;
  return v1::BatchService::NewStub(channel)->ListExecutors(&context, {}, &response);
}

std::string Bearer(absl::string_view token) { return absl::StrCat("Bearer ", token); }

absl::StatusOr<CommandResult> Batchctl(const std::string& address,
                                       const std::vector<std::string>& args,
                                       const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {BATCHCTL_BINARY, "--addr", address};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, kCommandTimeout, env);
}

// "0.0.0.0:1234" -> "127.0.0.1:1234": where a test reaches a daemon bound to every interface.
std::string LoopbackOf(const std::string& address) {
  return absl::StrCat("127.0.0.1", address.substr(address.rfind(':')));
}

uint32_t ModeOf(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_dir_ = new TempDir();
    absl::StatusOr<Certificates> certs = MakeCertificates(cert_dir_->path());
    if (certs.ok()) {
      certs_ = new Certificates(*std::move(certs));
    } else {
      cert_error_ = new std::string(certs.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete certs_;
    delete cert_error_;
    delete cert_dir_;
    certs_ = nullptr;
    cert_error_ = nullptr;
    cert_dir_ = nullptr;
  }

  void SetUp() override {
    token_file_ = dir_.File("token");
    WriteFile(token_file_, absl::StrCat(kToken, "\n"));
  }

  void TearDown() override {
    if (HasFailure() && daemon_ != nullptr) std::cerr << "batchd stderr:\n" << daemon_->Stderr();
  }

  const Certificates& certs() const {
    if (certs_ == nullptr) ADD_FAILURE() << "no certificates: " << *cert_error_;
    static const Certificates kNone;
    return certs_ != nullptr ? *certs_ : kNone;
  }

  // Starts batchd with `flags`; fails the test when it does not come up.
  void StartDaemon(const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon = DaemonProcess::Start(flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }

  // Runs batchd expecting it to refuse to start.
  static CommandResult RunRefused(const std::vector<std::string>& flags,
                                  const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {DaemonProcess::BinaryPath()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    // Its own data directory unless the test names one: the default ./batchd-data is shared
    // by every test run from the same directory, and the daemon takes it before it listens.
    const bool names_data_dir = std::any_of(flags.begin(), flags.end(), [](const std::string& f) {
      return absl::StartsWith(f, "--data-dir");
    });
    std::optional<TempDir> data_dir;
    if (!names_data_dir) {
      data_dir.emplace();
      argv.push_back("--data-dir=" + data_dir->File("data"));
    }
    absl::StatusOr<CommandResult> result = RunCommand(argv, kCommandTimeout, env);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  TempDir dir_;
  std::string token_file_;
  std::unique_ptr<DaemonProcess> daemon_;

 private:
  static TempDir* cert_dir_;
  static Certificates* certs_;
  static std::string* cert_error_;
};

TempDir* SecurityTest::cert_dir_ = nullptr;
Certificates* SecurityTest::certs_ = nullptr;
std::string* SecurityTest::cert_error_ = nullptr;

// --- bearer token ----------------------------------------------------------------------------

TEST_F(SecurityTest, TokenIsRequiredForBatchServiceAndHealthIsExempt) {
  StartDaemon({absl::StrCat("--auth-token-file=", token_file_)});
  const auto channel = PlaintextChannel(daemon_->address());

  for (const std::string& authorization :
       {std::string(), Bearer("wrong-token"), Bearer(absl::StrCat(kToken, "x")),
        std::string(kToken), absl::StrCat("Basic ", kToken)}) {
    const grpc::Status status = ListExecutors(channel, authorization);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << authorization;
    EXPECT_EQ(status.error_message(), kRejected) << authorization;
  }
  EXPECT_TRUE(ListExecutors(channel, Bearer(kToken)).ok());
  EXPECT_TRUE(ListExecutors(channel, absl::StrCat("bearer ", kToken)).ok()) << "scheme any case";
  const grpc::Status health = CheckHealth(channel);
  EXPECT_TRUE(health.ok()) << health.error_message();
}

TEST_F(SecurityTest, StreamsAndWorkerConnectNeedTheTokenToo) {
  StartDaemon({absl::StrCat("--auth-token-file=", token_file_)});
  const auto channel = PlaintextChannel(daemon_->address());
  const auto batches = v1::BatchService::NewStub(channel);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::StreamResultsRequest request;
    request.set_batch_id("whatever");
    auto reader = batches->StreamResults(&context, request);
    v1::StreamResultsResponse response;
    EXPECT_FALSE(reader->Read(&response));
    const grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), kRejected);
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::WatchProgressRequest request;
    request.set_batch_id("whatever");
    auto reader = batches->WatchProgress(&context, request);
    v1::WatchProgressResponse response;
    EXPECT_FALSE(reader->Read(&response));
    const grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), kRejected);
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    auto stream = v1::WorkerService::NewStub(channel)->Connect(&context);
    v1::ConnectRequest registration;
    registration.mutable_registration()->add_executors("x");
    registration.mutable_registration()->set_slots(1);
    stream->Write(registration);  // may fail once the daemon has finished the call
    v1::ConnectResponse response;
    EXPECT_FALSE(stream->Read(&response));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), kRejected);
  }
  {
    // With the token the stream reaches the scheduler, which does not know the batch.
    grpc::ClientContext context;
    SetDeadline(&context);
    context.AddMetadata("authorization", Bearer(kToken));
    v1::StreamResultsRequest request;
    request.set_batch_id("whatever");
    auto reader = batches->StreamResults(&context, request);
    v1::StreamResultsResponse response;
    while (reader->Read(&response)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(SecurityTest, BatchctlSendsTheTokenFromItsFlagOrEnvironment) {
  StartDaemon({absl::StrCat("--auth-token-file=", token_file_)});
  absl::StatusOr<CommandResult> without = Batchctl(daemon_->address(), {"executors"});
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->exit_code, 1);
  EXPECT_THAT(without->stderr_text, HasSubstr(kRejected));
  EXPECT_THAT(without->stderr_text, HasSubstr("--token-file"));

  absl::StatusOr<CommandResult> with =
      Batchctl(daemon_->address(), {"executors", "--token-file", token_file_});
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->exit_code, 0) << with->stderr_text;
  EXPECT_THAT(with->stdout_text, HasSubstr("echo"));

  absl::StatusOr<CommandResult> from_env = Batchctl(
      daemon_->address(), {"executors"}, {absl::StrCat("BATCHD_TOKEN_FILE=", token_file_)});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->exit_code, 0) << from_env->stderr_text;

  absl::StatusOr<CommandResult> health = Batchctl(daemon_->address(), {"health"});
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->exit_code, 0) << "Health needs no token: " << health->stderr_text;

  absl::StatusOr<CommandResult> missing =
      Batchctl(daemon_->address(), {"executors", "--token-file", dir_.File("absent")});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->exit_code, 2);
  EXPECT_THAT(missing->stderr_text, HasSubstr("cannot read --token-file"));
}

// --- TLS ---------------------------------------------------------------------------------------

TEST_F(SecurityTest, TlsWithoutClientCaServesTlsClientsOnly) {
  const Certificates& c = certs();
  StartDaemon(
      {absl::StrCat("--tls-cert=", c.server_cert), absl::StrCat("--tls-key=", c.server_key)});
  const grpc::Status tls = CheckHealth(TlsChannel(daemon_->address(), c.ca));
  EXPECT_TRUE(tls.ok()) << tls.error_message();
  EXPECT_TRUE(ListExecutors(TlsChannel(daemon_->address(), c.ca), "").ok());
  EXPECT_EQ(CheckHealth(PlaintextChannel(daemon_->address())).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A server certificate from a CA the client does not trust is refused by the client.
  EXPECT_EQ(CheckHealth(TlsChannel(daemon_->address(), c.rogue_cert)).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  absl::StatusOr<CommandResult> batchctl =
      Batchctl(daemon_->address(), {"executors", "--tls-ca", c.ca});
  ASSERT_TRUE(batchctl.ok()) << batchctl.status();
  EXPECT_EQ(batchctl->exit_code, 0) << batchctl->stderr_text;
}

TEST_F(SecurityTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  const Certificates& c = certs();
  StartDaemon({absl::StrCat("--tls-cert=", c.server_cert), absl::StrCat("--tls-key=", c.server_key),
               absl::StrCat("--tls-client-ca=", c.ca)});
  const grpc::Status with_cert =
      CheckHealth(TlsChannel(daemon_->address(), c.ca, c.client_cert, c.client_key));
  EXPECT_TRUE(with_cert.ok()) << with_cert.error_message();
  EXPECT_FALSE(CheckHealth(TlsChannel(daemon_->address(), c.ca)).ok()) << "no client cert";
  EXPECT_FALSE(CheckHealth(TlsChannel(daemon_->address(), c.ca, c.rogue_cert, c.rogue_key)).ok())
      << "client cert from an untrusted CA";

  absl::StatusOr<CommandResult> with = Batchctl(
      daemon_->address(),
      {"health", "--tls-ca", c.ca, "--tls-cert", c.client_cert, "--tls-key", c.client_key});
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->exit_code, 0) << with->stderr_text;
  absl::StatusOr<CommandResult> without =
      Batchctl(daemon_->address(), {"health", "--tls-ca", c.ca});
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->exit_code, 1);
}

TEST_F(SecurityTest, BatchctlWorkerConnectsWithTokenAndMutualTls) {
  const Certificates& c = certs();
  StartDaemon({absl::StrCat("--tls-cert=", c.server_cert), absl::StrCat("--tls-key=", c.server_key),
               absl::StrCat("--tls-client-ca=", c.ca),
               absl::StrCat("--auth-token-file=", token_file_)});
  const std::vector<std::string> security = {"--tls-ca",     c.ca,        "--tls-cert",
                                             c.client_cert,  "--tls-key", c.client_key,
                                             "--token-file", token_file_};
  std::vector<std::string> argv = {BATCHCTL_BINARY, "--addr", daemon_->address()};
  argv.insert(argv.end(), security.begin(), security.end());
  for (const char* arg : {"worker", "--executor", "cat", "--", "cat"}) argv.emplace_back(arg);
  absl::StatusOr<std::unique_ptr<ChildProcess>> worker = ChildProcess::Spawn(argv);
  ASSERT_TRUE(worker.ok()) << worker.status();

  // `batchctl run` waits for the batch, which waits for the worker to connect.
  const std::string batch = dir_.File("batch.json");
  WriteFile(batch,
            R"({"tasks": [{"id": "a", "executor": "cat", "input": {"n": 1}}],
                "options": {"waitForWorkers": true}})");
  std::vector<std::string> run = security;
  run.insert(run.end(), {"run", batch, "--timeout", "60s"});
  absl::StatusOr<CommandResult> result = Batchctl(daemon_->address(), run);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stdout_text << result->stderr_text << "\nworker:\n"
                                  << (*worker)->Stderr();
  EXPECT_THAT(result->stdout_text, HasSubstr("SUCCEEDED"));
}

// --- who may be served -------------------------------------------------------------------------

TEST_F(SecurityTest, NonLoopbackAddressWithoutTokenOrTlsIsRefused) {
  for (const char* listen : {"0.0.0.0:0", "[::]:0", "batchd.example:0", ":0"}) {
    const CommandResult result = RunRefused({absl::StrCat("--listen=", listen)});
    EXPECT_EQ(result.exit_code, 2) << listen;
    EXPECT_THAT(result.stderr_text,
                HasSubstr(absl::StrCat("batchd: refusing to listen on ", listen,
                                       " (beyond loopback) without --auth-token-file or "
                                       "--tls-cert")))
        << listen;
    EXPECT_THAT(result.stderr_text, HasSubstr("--allow-insecure-remote"));
    EXPECT_EQ(result.stdout_text, "");
  }
}

TEST_F(SecurityTest, NonLoopbackAddressIsServedWhenAllowedOrProtected) {
  StartDaemon({"--listen=0.0.0.0:0", "--allow-insecure-remote"});
  EXPECT_TRUE(ListExecutors(PlaintextChannel(LoopbackOf(daemon_->address())), "").ok());
  EXPECT_THAT(daemon_->Stderr(), HasSubstr("without a token or TLS (--allow-insecure-remote)"));

  StartDaemon({"--listen=0.0.0.0:0", absl::StrCat("--auth-token-file=", token_file_)});
  EXPECT_TRUE(ListExecutors(PlaintextChannel(LoopbackOf(daemon_->address())), Bearer(kToken)).ok());
  EXPECT_THAT(daemon_->Stderr(), HasSubstr("the bearer token travels in clear text"));

  const Certificates& c = certs();
  StartDaemon({"--listen=0.0.0.0:0", absl::StrCat("--tls-cert=", c.server_cert),
               absl::StrCat("--tls-key=", c.server_key)});
  EXPECT_TRUE(CheckHealth(TlsChannel(LoopbackOf(daemon_->address()), c.ca)).ok());
}

TEST_F(SecurityTest, LoopbackAddressesNeedNoProtection) {
  for (const char* listen : {"127.0.0.1:0", "localhost:0", "127.0.0.2:0"}) {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon =
        DaemonProcess::Start({absl::StrCat("--listen=", listen)});
    EXPECT_TRUE(daemon.ok()) << listen << ": " << daemon.status();
  }
}

// --- unix sockets ----------------------------------------------------------------------------

TEST_F(SecurityTest, UnixSocketGetsTheConfiguredMode) {
  const std::string socket = dir_.File("default.sock");
  StartDaemon({absl::StrCat("--listen=unix:", socket)});
  EXPECT_EQ(ModeOf(socket), 0660u);
  EXPECT_TRUE(CheckHealth(PlaintextChannel(daemon_->address())).ok());

  const std::string owner_only = dir_.File("owner.sock");
  StartDaemon({absl::StrCat("--listen=unix:", owner_only), "--unix-socket-mode=600"});
  EXPECT_EQ(ModeOf(owner_only), 0600u);
  EXPECT_TRUE(CheckHealth(PlaintextChannel(daemon_->address())).ok());
}

TEST_F(SecurityTest, StaleUnixSocketIsReplaced) {
  const std::string path = dir_.File("stale.sock");
  {
    // A socket file nobody accepts on, as a killed daemon leaves behind.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    close(fd);
  }
  StartDaemon({absl::StrCat("--listen=unix:", path)});
  EXPECT_TRUE(CheckHealth(PlaintextChannel(daemon_->address())).ok());
}

TEST_F(SecurityTest, LiveUnixSocketIsNotStolen) {
  const std::string path = dir_.File("live.sock");
  StartDaemon({absl::StrCat("--listen=unix:", path)});
  const CommandResult second = RunRefused({absl::StrCat("--listen=unix:", path)});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.stderr_text,
              HasSubstr(absl::StrCat("batchd: cannot listen on unix:", path,
                                     ": another process is serving on this socket")));
  EXPECT_TRUE(CheckHealth(PlaintextChannel(daemon_->address())).ok())
      << "first daemon still serves";
}

TEST_F(SecurityTest, RegularFileAtTheSocketPathIsRefusedAndKept) {
  const std::string path = dir_.File("data.txt");
  WriteFile(path, "keep me");
  const CommandResult result = RunRefused({absl::StrCat("--listen=unix:", path)});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.stderr_text,
              HasSubstr(absl::StrCat("batchd: cannot listen on unix:", path,
                                     ": exists and is not a socket; refusing to replace it")));
  EXPECT_EQ(ReadFile(path), "keep me");
}

TEST_F(SecurityTest, BatchctlReachesATokenProtectedUnixSocket) {
  const std::string path = dir_.File("token.sock");
  StartDaemon(
      {absl::StrCat("--listen=unix:", path), absl::StrCat("--auth-token-file=", token_file_)});
  absl::StatusOr<CommandResult> result =
      Batchctl(absl::StrCat("unix:", path), {"executors", "--token-file", token_file_});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
}

// --- configuration -----------------------------------------------------------------------------

TEST_F(SecurityTest, EnvironmentVariablesSetFlags) {
  const std::string socket = dir_.File("env.sock");
  absl::StatusOr<std::unique_ptr<ChildProcess>> daemon = ChildProcess::Spawn(
      {DaemonProcess::BinaryPath()},
      {absl::StrCat("BATCHD_LISTEN=unix:", socket), "BATCHD_LOG_LEVEL=debug",
       absl::StrCat("BATCHD_AUTH_TOKEN_FILE=", token_file_), "BATCHD_UNIX_SOCKET_MODE=0640",
       "BATCHD_NO_SUCH_FLAG=1", "BATCHD_ADDR=unix:/ignored",
       absl::StrCat("BATCHD_DATA_DIR=", dir_.File("data"))});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  absl::StatusOr<std::string> line =
      (*daemon)->WaitForStdoutLine("batchd listening on ", DaemonProcess::kDefaultReadyTimeout);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, absl::StrCat("batchd listening on unix:", socket));
  EXPECT_EQ(ModeOf(socket), 0640u);
  const auto channel = PlaintextChannel(absl::StrCat("unix:", socket));
  EXPECT_EQ(ListExecutors(channel, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListExecutors(channel, Bearer(kToken)).ok());
  const std::string stderr_text = (*daemon)->Stderr();
  EXPECT_THAT(stderr_text, HasSubstr("[debug]"));
  EXPECT_THAT(stderr_text, HasSubstr("ignoring BATCHD_NO_SUCH_FLAG: no daemon flag has that name"));
  EXPECT_THAT(stderr_text, ::testing::Not(HasSubstr("BATCHD_ADDR"))) << "batchctl's variable";
}

TEST_F(SecurityTest, CommandLineWinsOverEnvironment) {
  // Both variables alone would refuse to start: BATCHD_LOG_LEVEL is invalid, BATCHD_LISTEN
  // remote and unprotected. The command line replaces both.
  const std::vector<std::string> env = {"BATCHD_LISTEN=0.0.0.0:0", "BATCHD_LOG_LEVEL=loud"};
  const CommandResult refused = RunRefused({"--listen=127.0.0.1:0"}, env);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.stderr_text, HasSubstr("invalid --log-level 'loud'"));

  absl::StatusOr<std::unique_ptr<ChildProcess>> daemon =
      ChildProcess::Spawn({DaemonProcess::BinaryPath(), "--listen=127.0.0.1:0", "--log-level=info",
                           "--data-dir=" + dir_.File("data")},
                          env);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  absl::StatusOr<std::string> line =
      (*daemon)->WaitForStdoutLine("batchd listening on ", DaemonProcess::kDefaultReadyTimeout);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr("127.0.0.1:"));
}

TEST_F(SecurityTest, UnparsableEnvironmentValueIsRefusedNamingTheVariable) {
  const CommandResult result = RunRefused({"--listen=127.0.0.1:0"}, {"BATCHD_SHUTDOWN_GRACE=soon"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text,
              HasSubstr("batchd: invalid BATCHD_SHUTDOWN_GRACE='soon' for --shutdown-grace"));
}

TEST_F(SecurityTest, FlagFileCarriesSecurityFlags) {
  const std::string socket = dir_.File("flagfile.sock");
  const std::string flagfile = dir_.File("batchd.flags");
  WriteFile(flagfile, absl::StrCat("--listen=unix:", socket, "\n--auth-token-file=", token_file_,
                                   "\n--unix-socket-mode=0600\n"));
  StartDaemon({absl::StrCat("--flagfile=", flagfile)});
  EXPECT_EQ(daemon_->address(), absl::StrCat("unix:", socket));
  EXPECT_EQ(ModeOf(socket), 0600u);
  const auto channel = PlaintextChannel(daemon_->address());
  EXPECT_EQ(ListExecutors(channel, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListExecutors(channel, Bearer(kToken)).ok());
}

TEST_F(SecurityTest, UnusableSecurityFlagsAreRefusedNamingTheFlag) {
  const Certificates& c = certs();
  WriteFile(dir_.File("empty"), "\n");
  WriteFile(dir_.File("spaced"), "two words\n");
  WriteFile(dir_.File("not-pem"), "hello\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--unix-socket-mode=999"},
       "invalid --unix-socket-mode '999': expected octal permissions such as 0660"},
      {{"--unix-socket-mode=rw"}, "invalid --unix-socket-mode 'rw'"},
      {{absl::StrCat("--auth-token-file=", dir_.File("absent"))},
       absl::StrCat("cannot read --auth-token-file '", dir_.File("absent"), "'")},
      {{absl::StrCat("--auth-token-file=", dir_.File("empty"))},
       absl::StrCat("--auth-token-file '", dir_.File("empty"), "' is empty")},
      {{absl::StrCat("--auth-token-file=", dir_.File("spaced"))},
       absl::StrCat("--auth-token-file '", dir_.File("spaced"),
                    "': the token must be one line of visible ASCII characters without spaces")},
      {{absl::StrCat("--tls-key=", c.server_key)}, "--tls-key needs --tls-cert"},
      {{absl::StrCat("--tls-cert=", c.server_cert)}, "--tls-cert needs --tls-key"},
      {{absl::StrCat("--tls-client-ca=", c.ca)}, "--tls-client-ca needs --tls-cert and --tls-key"},
      {{absl::StrCat("--tls-cert=", dir_.File("not-pem")),
        absl::StrCat("--tls-key=", c.server_key)},
       absl::StrCat("--tls-cert '", dir_.File("not-pem"), "' is not a PEM file")},
      {{"--listen=127.0.0.1"}, "invalid --listen '127.0.0.1': missing port"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> argv = {"--listen=127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const CommandResult result = RunRefused(argv);
    EXPECT_EQ(result.exit_code, 2) << flags.back();
    EXPECT_THAT(result.stderr_text, HasSubstr(absl::StrCat("batchd: ", message))) << flags.back();
    EXPECT_EQ(result.stdout_text, "") << flags.back();
  }
}

// Abseil's parser rejects what does not parse as the flag's type before batchd sees it; it
// exits 1 (its convention), naming the flag.
TEST_F(SecurityTest, MistypedFlagValueIsRefusedByTheParser) {
  const CommandResult result =
      RunRefused({"--listen=127.0.0.1:0", "--allow-insecure-remote=maybe"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.stderr_text, HasSubstr("allow-insecure-remote"));
  EXPECT_EQ(result.stdout_text, "");
}

}  // namespace
}  // namespace batchd
