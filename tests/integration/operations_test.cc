// Operating batchd: Prometheus metrics scraped after a batch, JSON log lines, and every limit
// answering its error while the daemon keeps serving. Real daemon, bounded waits.
#include <arpa/inet.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kCallTimeout{60};

std::unique_ptr<DaemonProcess> StartDaemon(const std::vector<std::string>& flags) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon = DaemonProcess::Start(flags);
  EXPECT_TRUE(daemon.ok()) << daemon.status();
  return daemon.ok() ? *std::move(daemon) : nullptr;
}

// The metrics address the daemon logged ("metrics on http://HOST:PORT/metrics").
std::string MetricsAddress(const DaemonProcess& daemon) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  const std::regex pattern("metrics on http://([0-9.]+):([0-9]+)/metrics");
  while (absl::Now() < deadline) {
    std::smatch match;
    const std::string text = daemon.Stderr();
    if (std::regex_search(text, match, pattern))
      return absl::StrCat(match[1].str(), ":", match[2].str());
    absl::SleepFor(absl::Milliseconds(10));
  }
  return "";
}

// A plain HTTP/1.1 GET over a socket; the whole response ("" on failure).
std::string HttpGet(const std::string& host_port, const std::string& path) {
  const size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port))
    return "";
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[8192];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0)
    response.append(buffer, static_cast<size_t>(n));
  close(fd);
  return response;
}

// Sample lines of the exposition text: "name{labels}" -> value.
std::map<std::string, double> ParseSamples(const std::string& body) {
  std::map<std::string, double> samples;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    EXPECT_TRUE(space != absl::string_view::npos &&
                absl::SimpleAtod(line.substr(space + 1), &value))
        << "unparsable sample line: " << line;
    samples[std::string(line.substr(0, space))] = value;
  }
  return samples;
}

// GET /metrics from `address`, parsed.
std::map<std::string, double> Scrape(const std::string& address) {
  const std::string http = HttpGet(address, "/metrics");
  return ParseSamples(http.substr(http.find("\r\n\r\n") + 4));
}

v1::ProcessBatchRequest EchoBatch(int n) {
  v1::ProcessBatchRequest request;
  for (int i = 0; i < n; ++i) {
    v1::Task* t = request.add_tasks();
    t->set_id(absl::StrCat("t", i));
    t->set_executor("echo");
  }
  return request;
}

// One task sleeping a minute: a batch that stays unfinished until cancelled.
v1::SubmitBatchRequest SlowBatch() {
  v1::SubmitBatchRequest request;
  v1::Task* t = request.add_tasks();
  t->set_id("slow");
  t->set_executor("sleep");
  t->mutable_input()->set_number_value(60000);
  return request;
}

grpc::Status Process(v1::BatchService::Stub& stub, const v1::ProcessBatchRequest& request,
                     v1::ProcessBatchResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return stub.ProcessBatch(&context, request, response);
}

TEST(OperationsTest, MetricsCountWhatABatchDid) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--metrics-listen=127.0.0.1:0"});
  ASSERT_NE(daemon, nullptr);
  const std::string metrics = MetricsAddress(*daemon);
  ASSERT_FALSE(metrics.empty()) << daemon->Stderr();
  auto stub = daemon->NewBatchStub();
  v1::ProcessBatchRequest request = EchoBatch(3);
  v1::Task* failing = request.add_tasks();
  failing->set_id("f");
  failing->set_executor("fail");
  failing->mutable_retry_policy()->set_kind(v1::RETRY_KIND_FIXED);
  failing->mutable_retry_policy()->set_max_retries(2);
  failing->mutable_retry_policy()->set_initial_delay_ms(1);
  v1::ProcessBatchResponse response;
  ASSERT_TRUE(Process(*stub, request, &response).ok());

  const std::string http = HttpGet(metrics, "/metrics");
  ASSERT_THAT(http, HasSubstr("200 OK"));
  EXPECT_THAT(http, HasSubstr("text/plain; version=0.0.4"));
  const std::map<std::string, double> s = ParseSamples(http.substr(http.find("\r\n\r\n") + 4));
  EXPECT_EQ(s.at("batchd_batches_submitted_total"), 1);
  EXPECT_EQ(s.at("batchd_batches_finished_total{state=\"failed\"}"), 1);
  EXPECT_EQ(s.at("batchd_tasks_finished_total{executor=\"echo\",state=\"succeeded\"}"), 3);
  EXPECT_EQ(s.at("batchd_tasks_finished_total{executor=\"fail\",state=\"failed\"}"), 1);
  EXPECT_EQ(s.at("batchd_task_retries_total{executor=\"fail\"}"), 2);
  EXPECT_EQ(s.at("batchd_task_duration_seconds_count{executor=\"echo\"}"), 3);
  EXPECT_EQ(s.at("batchd_task_queue_wait_seconds_count{executor=\"fail\"}"), 3);  // 3 attempts
  EXPECT_EQ(s.at("batchd_running_tasks"), 0);
  EXPECT_EQ(s.at("batchd_active_batches"), 0);
  EXPECT_EQ(s.at("batchd_rpcs_total{method=\"/batchd.v1.BatchService/ProcessBatch\",code=\"OK\"}"),
            1);
  EXPECT_THAT(HttpGet(metrics, "/nope"), HasSubstr("404"));
}

TEST(OperationsTest, MetricsCountTheResultCache) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--metrics-listen=127.0.0.1:0"});
  ASSERT_NE(daemon, nullptr);
  const std::string metrics = MetricsAddress(*daemon);
  ASSERT_FALSE(metrics.empty()) << daemon->Stderr();
  auto stub = daemon->NewBatchStub();
  // Three identical echo tasks: one runs, two join its flight; then a later batch hits.
  v1::ProcessBatchRequest request = EchoBatch(3);
  request.mutable_options()->mutable_default_cache()->set_ttl_ms(60000);
  v1::ProcessBatchResponse response;
  ASSERT_TRUE(Process(*stub, request, &response).ok());
  ASSERT_TRUE(Process(*stub, request, &response).ok());

  const std::map<std::string, double> s = Scrape(metrics);
  EXPECT_EQ(s.at("batchd_cache_lookups_total{result=\"hit\"}"), 3);
  EXPECT_EQ(s.at("batchd_cache_lookups_total{result=\"miss\"}"), 3);
  EXPECT_EQ(s.at("batchd_cache_single_flight_joins_total"), 2);
  EXPECT_EQ(s.at("batchd_cache_stored_total"), 1);
  EXPECT_EQ(s.at("batchd_cache_entries"), 1);
  EXPECT_GT(s.at("batchd_cache_bytes"), 0);
  EXPECT_EQ(s.at("batchd_cache_max_bytes"), 256 << 20);
  EXPECT_EQ(s.at("batchd_cache_flights"), 0);
}

TEST(OperationsTest, JsonLogLinesParseAndEscapeMessages) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--log-format=json"});
  ASSERT_NE(daemon, nullptr);
  auto stub = daemon->NewBatchStub();
  const v1::SubmitBatchRequest request = SlowBatch();
  grpc::ClientContext submit_context;
  v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(stub->SubmitBatch(&submit_context, request, &submitted).ok());
  grpc::ClientContext cancel_context;
  v1::CancelBatchRequest cancel;
  cancel.set_batch_id(submitted.batch_id());
  cancel.set_reason("said \"stop\"\nnow\\");
  v1::CancelBatchResponse cancelled;
  ASSERT_TRUE(stub->CancelBatch(&cancel_context, cancel, &cancelled).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline &&
         daemon->Stderr().find("finished CANCELLED") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const std::string logs = daemon->Stderr();
  // Each line is one flat JSON object; the message's quote, newline and backslash are escaped.
  const std::regex line_pattern(
      R"(^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z","level":"[a-z]+","logger":"batchd","thread":\d+,"msg":"([^"\\]|\\["\\nrtu])*"\}$)");
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(logs, '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(std::regex_match(std::string(line), line_pattern)) << line;
  }
  EXPECT_GE(lines, 3);
  EXPECT_THAT(logs, HasSubstr(R"(cancelled: said \"stop\"\nnow\\")"));
  EXPECT_THAT(logs, HasSubstr("finished CANCELLED: 1 tasks"));
}

TEST(OperationsTest, TooManyTasksIsRefusedNamingTheFlag) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--max-batch-tasks=5"});
  ASSERT_NE(daemon, nullptr);
  auto stub = daemon->NewBatchStub();
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*stub, EchoBatch(6), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Batch has 6 tasks; the limit is 5 (--max-batch-tasks)");
  EXPECT_TRUE(Process(*stub, EchoBatch(5), &response).ok());
}

TEST(OperationsTest, OversizedTaskInputIsRefusedNamingTheFlag) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--max-task-input-bytes=100"});
  ASSERT_NE(daemon, nullptr);
  auto stub = daemon->NewBatchStub();
  v1::ProcessBatchRequest request = EchoBatch(2);
  request.mutable_tasks(1)->mutable_input()->set_string_value(std::string(200, 'x'));
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*stub, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(
      status.error_message(),
      HasSubstr("Input of task 't1' is 203 bytes; the limit is 100 (--max-task-input-bytes)"));
  request.mutable_tasks(1)->mutable_input()->set_string_value("small");
  EXPECT_TRUE(Process(*stub, request, &response).ok());
}

TEST(OperationsTest, TooManyActiveBatchesIsResourceExhausted) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--max-active-batches=1"});
  ASSERT_NE(daemon, nullptr);
  auto stub = daemon->NewBatchStub();
  const v1::SubmitBatchRequest slow = SlowBatch();
  grpc::ClientContext c1;
  v1::SubmitBatchResponse first;
  ASSERT_TRUE(stub->SubmitBatch(&c1, slow, &first).ok());
  v1::ProcessBatchResponse response;
  const grpc::Status refused = Process(*stub, EchoBatch(1), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(),
            "Too many active batches: the limit is 1 unfinished batches (--max-active-batches)");
  // Once the first batch ends, submissions are accepted again.
  grpc::ClientContext c2;
  v1::CancelBatchRequest cancel;
  cancel.set_batch_id(first.batch_id());
  v1::CancelBatchResponse cancelled;
  ASSERT_TRUE(stub->CancelBatch(&c2, cancel, &cancelled).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  grpc::Status status;
  do {
    status = Process(*stub, EchoBatch(1), &response);
    if (status.ok()) break;
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(OperationsTest, StreamsPerClientAndInTotalAreCapped) {
  std::unique_ptr<DaemonProcess> daemon =
      StartDaemon({"--max-streams-per-client=2", "--max-streams=3"});
  ASSERT_NE(daemon, nullptr);
  auto stub = daemon->NewBatchStub();
  const v1::SubmitBatchRequest slow = SlowBatch();
  grpc::ClientContext submit_context;
  v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(stub->SubmitBatch(&submit_context, slow, &submitted).ok());

  // Two open result streams from this host are allowed; the third is refused. Each stream has
  // its own connection (a distinct channel argument keeps gRPC from sharing one), as separate
  // client processes would, connected before any stream opens so a slow connect cannot look
  // like an open stream. They are opened at once, so which one the daemon sees third is not
  // known: exactly one is refused; the other two stay open until the test cancels them.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 3; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("batchd.test.connection", i);
    channels.push_back(
        grpc::CreateCustomChannel(daemon->address(), grpc::InsecureChannelCredentials(), args));
    ASSERT_TRUE(channels.back()->WaitForConnected(std::chrono::system_clock::now() + kCallTimeout))
        << "connection " << i;
  }
  v1::StreamResultsRequest request;
  request.set_batch_id(submitted.batch_id());
  absl::Mutex mu;
  std::vector<grpc::Status> finished(3);
  std::vector<bool> done(3, false);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int i = 0; i < 3; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  }
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&, i] {
      auto stream_stub = v1::BatchService::NewStub(channels[i]);
      auto reader = stream_stub->StreamResults(contexts[i].get(), request);
      v1::StreamResultsResponse message;
      while (reader->Read(&message)) {
      }
      grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mu);
      finished[i] = std::move(status);
      done[i] = true;
    });
  }
  // The refused stream ends by itself; the open ones would run until the slow batch ends (60 s).
  {
    absl::MutexLock lock(&mu);
    auto one_done = [&] { return std::count(done.begin(), done.end(), true) >= 1; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&one_done), absl::Seconds(60)));
  }
  // Unary calls keep working meanwhile.
  grpc::ClientContext list_context;
  v1::ListBatchesResponse listed;
  EXPECT_TRUE(stub->ListBatches(&list_context, {}, &listed).ok());
  // A refusal means the daemon held the other two open at that moment.
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader.join();
  int refused = 0;
  int open_until_cancelled = 0;
  for (const grpc::Status& status : finished) {
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_EQ(status.error_message(),
                "Too many open streams from 127.0.0.1: the limit is 2 per client "
                "(--max-streams-per-client)");
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
      ++open_until_cancelled;
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(open_until_cancelled, 2);
}

TEST(OperationsTest, OversizedRequestIsResourceExhausted) {
  std::unique_ptr<DaemonProcess> daemon = StartDaemon({"--max-request-bytes=4096"});
  ASSERT_NE(daemon, nullptr);
  auto stub = daemon->NewBatchStub();
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(*stub, EchoBatch(1000), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Process(*stub, EchoBatch(3), &response).ok());
}

TEST(OperationsTest, BadLimitFlagRefusesToStart) {
  absl::StatusOr<testing::CommandResult> result =
      testing::RunCommand({DaemonProcess::BinaryPath(), "--max-streams=0"}, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_THAT(result->stderr_text, HasSubstr("invalid --max-streams 0: must be at least 1"));
}

}  // namespace
}  // namespace batchd
