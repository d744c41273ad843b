// The result cache through the real daemon, against a local HTTP server that counts calls: a
// repeated call in a later batch is served from the cache (marked, with its origin); identical
// calls from two clients at once reach the server once (single-flight); a failure hands the
// run to a waiter; CacheService invalidates and counts; a callback worker's task is cached
// too; bad policies are refused naming the field; entries (and invalidations) outlive a restart
// on the same --data-dir. Requests are written as JSON.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "batchd/v1/cache_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"
#include "tests/testing/daemon_test_base.h"
#include "tests/testing/http_test_server.h"

namespace batchd {
namespace {

using ::batchd::testing::ChildProcess;
using ::batchd::testing::HttpTestServer;

constexpr std::chrono::seconds kCallTimeout{60};

class CacheTest : public testing::DaemonTestBase {
 protected:
  void SetUp() override {
    DaemonTestBase::SetUp();
    caches_ = v1::CacheService::NewStub(
        grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (HasFailure() && worker_ != nullptr) std::cerr << "worker stderr:\n" << worker_->Stderr();
    worker_.reset();
    DaemonTestBase::TearDown();
  }

  // Answers {"n": <call number>} after `hold`; the first `failures` calls answer 500.
  void Serve(absl::Duration hold = absl::ZeroDuration(), int failures = 0) {
    absl::StatusOr<std::unique_ptr<HttpTestServer>> server =
        HttpTestServer::Start([this, hold, failures](const HttpTestServer::Request&) {
          const int n = ++calls_;
          HttpTestServer::Reply reply;
          reply.hold = hold;
          reply.status = n <= failures ? 500 : 200;
          reply.headers = {{"Content-Type", "application/json"}};
          reply.body = absl::StrCat(R"({"n": )", n, "}");
          return reply;
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  template <typename Request>
  Request Parse(const std::string& json) {
    Request request;
    const std::string text =
        server_ != nullptr ? absl::StrReplaceAll(json, {{"{{server}}", server_->Url("")}}) : json;
    const auto parsed = google::protobuf::util::JsonStringToMessage(text, &request);
    EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << text;
    return request;
  }

  v1::BatchSummary Process(const std::string& json, v1::BatchService::Stub* stub = nullptr) {
    const auto request = Parse<v1::ProcessBatchRequest>(json);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::ProcessBatchResponse response;
    const grpc::Status status =
        (stub != nullptr ? stub : batches_.get())->ProcessBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return response.summary();
  }

  // `count` identical GETs of /item with a cache policy, one batch.
  static std::string Gets(int count, const std::string& cache = R"({"ttlMs": 60000})",
                          const std::string& extra = "") {
    std::string tasks;
    for (int i = 0; i < count; ++i) {
      absl::StrAppend(&tasks, i > 0 ? "," : "", R"({"id": "t)", i,
                      R"(", "executor": "http", "input": {"url": "{{server}}/item"}, "cache": )",
                      cache, "}");
    }
    return absl::StrCat(R"({"options": {"maxConcurrent": 100, "retryPolicy": {"maxRetries": 0})",
                        extra, R"(}, "tasks": [)", tasks, "]}");
  }

  v1::CacheStats Stats() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::GetCacheStatsResponse response;
    EXPECT_TRUE(caches_->GetCacheStats(&context, v1::GetCacheStatsRequest(), &response).ok());
    return response.stats();
  }
  grpc::Status Invalidate(const std::string& json, uint64_t* removed) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    v1::InvalidateCacheResponse response;
    const grpc::Status status =
        caches_->InvalidateCache(&context, Parse<v1::InvalidateCacheRequest>(json), &response);
    *removed = response.removed();
    return status;
  }

  std::unique_ptr<v1::CacheService::Stub> caches_;
  std::unique_ptr<HttpTestServer> server_;
  std::unique_ptr<ChildProcess> worker_;
  std::atomic<int> calls_{0};
};

TEST_F(CacheTest, ARepeatedCallInALaterBatchIsServedFromTheCache) {
  Serve();
  const v1::BatchSummary first = Process(Gets(1));
  ASSERT_EQ(first.state(), v1::BATCH_STATE_SUCCEEDED) << first.DebugString();
  EXPECT_FALSE(first.results(0).cached());
  const v1::BatchSummary second = Process(Gets(1));
  ASSERT_EQ(second.state(), v1::BATCH_STATE_SUCCEEDED);
  const v1::TaskResult& hit = second.results(0);
  EXPECT_TRUE(hit.cached());
  EXPECT_EQ(hit.cached_from().batch_id(), first.batch_id());
  EXPECT_EQ(hit.cached_from().task_id(), "t0");
  EXPECT_EQ(hit.output()
                .struct_value()
                .fields()
                .at("body")
                .struct_value()
                .fields()
                .at("n")
                .number_value(),
            1);
  EXPECT_EQ(hit.retry_count(), 0u);
  EXPECT_EQ(calls_.load(), 1);
  const v1::CacheStats stats = Stats();
  EXPECT_EQ(stats.hits(), 1u);
  EXPECT_EQ(stats.misses(), 1u);
  EXPECT_EQ(stats.stored(), 1u);
  EXPECT_EQ(stats.entries(), 1u);
}

TEST_F(CacheTest, IdenticalCallsFromTwoClientsAtOnceReachTheServerOnce) {
  Serve(absl::Milliseconds(300));
  auto other = daemon_->NewBatchStub();
  // Two clients, five identical calls each, submitted together while the first call is held.
  std::future<v1::BatchSummary> a =
      std::async(std::launch::async, [&] { return Process(Gets(5)); });
  std::future<v1::BatchSummary> b =
      std::async(std::launch::async, [&] { return Process(Gets(5), other.get()); });
  const v1::BatchSummary sa = a.get();
  const v1::BatchSummary sb = b.get();
  EXPECT_EQ(calls_.load(), 1);
  int cached = 0;
  for (const v1::BatchSummary* s : {&sa, &sb}) {
    EXPECT_EQ(s->state(), v1::BATCH_STATE_SUCCEEDED) << s->DebugString();
    for (const v1::TaskResult& r : s->results()) cached += r.cached() ? 1 : 0;
  }
  EXPECT_EQ(cached, 9);
  EXPECT_EQ(Stats().single_flight_joins(), 9u);
}

TEST_F(CacheTest, AFailedCallHandsTheRunToAWaiter) {
  Serve(absl::Milliseconds(200), /*failures=*/1);
  const v1::BatchSummary s = Process(Gets(3));
  EXPECT_EQ(calls_.load(), 2);  // the failure, then one waiter's run; the third is served
  int failed = 0, ran = 0, cached = 0;
  for (const v1::TaskResult& r : s.results()) {
    if (r.state() == v1::TASK_STATE_FAILED) ++failed;
    if (r.state() == v1::TASK_STATE_SUCCEEDED) ++(r.cached() ? cached : ran);
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(cached, 1);
}

TEST_F(CacheTest, InvalidationByKeyNamespaceAndAll) {
  Serve();
  Process(Gets(1, R"({"ttlMs": 60000, "key": "item", "namespace": "shop"})"));
  Process(Gets(1, R"({"ttlMs": 60000, "namespace": "shop"})"));
  Process(Gets(1));
  ASSERT_EQ(calls_.load(), 3);
  EXPECT_EQ(Stats().entries(), 3u);
  uint64_t removed = 0;
  ASSERT_TRUE(Invalidate(R"({"key": "item", "namespace": "shop"})", &removed).ok());
  EXPECT_EQ(removed, 1u);
  ASSERT_TRUE(Invalidate(R"({"wholeNamespace": true, "namespace": "shop"})", &removed).ok());
  EXPECT_EQ(removed, 1u);
  ASSERT_TRUE(Invalidate(R"({"all": true})", &removed).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_FALSE(Process(Gets(1)).results(0).cached());
  EXPECT_EQ(calls_.load(), 4);

  const grpc::Status none = Invalidate("{}", &removed);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(none.error_message(), "say what to invalidate: key, whole_namespace or all");
}

TEST_F(CacheTest, ACallbackWorkersResultIsCachedAndNotSentAgain) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> worker = ChildProcess::Spawn(
      {BATCHD_TEST_WORKER, "--addr", daemon_->address(), "--executor", "cached-worker"});
  ASSERT_TRUE(worker.ok()) << worker.status();
  worker_ = *std::move(worker);
  const std::string batch = R"({"options": {"waitForWorkers": true}, "tasks": [
    {"id": "w", "executor": "cached-worker", "input": {"q": 1}, "cache": {"ttlMs": 60000}}]})";
  const v1::BatchSummary first = Process(batch);
  ASSERT_EQ(first.state(), v1::BATCH_STATE_SUCCEEDED) << first.DebugString();
  const v1::BatchSummary second = Process(batch);
  ASSERT_EQ(second.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_TRUE(second.results(0).cached());
  EXPECT_EQ(second.results(0).worker_id(), "");  // no worker ran it
  // The test worker answers with the task and attempt it saw: the first run's, as stored.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(first.results(0).output(),
                                                                 second.results(0).output()))
      << first.results(0).output().DebugString() << second.results(0).output().DebugString();
}

TEST_F(CacheTest, BadPoliciesAreRefusedNamingTheField) {
  const auto request = Parse<v1::SubmitBatchRequest>(R"({"tasks": [
    {"id": "a", "cache": {"ttlMs": 0}}]})");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  v1::SubmitBatchResponse response;
  const grpc::Status status = batches_->SubmitBatch(&context, request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Task 'a': cache ttl_ms must be at least 1");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details_size() == 1 && details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "tasks[0].cache.ttl_ms");
}

// The same with a journal in a directory the test keeps, so the daemon can be restarted on it.
class CacheRestartTest : public CacheTest {
 protected:
  CacheRestartTest() {
    absl::StatusOr<std::string> dir = testing::MakeTempDir("batchd-cache-restart");
    EXPECT_TRUE(dir.ok()) << dir.status();
    dir_ = dir.value_or("");
  }
  ~CacheRestartTest() override { testing::RemoveTree(dir_); }
  std::vector<std::string> DaemonFlags() const override { return {"--data-dir=" + dir_ + "/data"}; }

  // SIGTERM (batchd exits 0), then a new batchd on the same data directory.
  void Restart() {
    ASSERT_TRUE(daemon_->SendSignal(SIGTERM).ok());
    absl::StatusOr<int> exit_code = daemon_->WaitForExit(absl::Seconds(30));
    ASSERT_TRUE(exit_code.ok()) << exit_code.status();
    ASSERT_EQ(*exit_code, 0) << daemon_->Stderr();
    absl::StatusOr<std::unique_ptr<testing::DaemonProcess>> daemon =
        testing::DaemonProcess::Start(DaemonFlags());
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    batches_ = daemon_->NewBatchStub();
    caches_ = v1::CacheService::NewStub(
        grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  std::string dir_;
};

TEST_F(CacheRestartTest, CachedResultsAndInvalidationsOutliveARestart) {
  Serve();
  const v1::BatchSummary first = Process(Gets(1));
  ASSERT_EQ(first.state(), v1::BATCH_STATE_SUCCEEDED) << first.DebugString();
  Process(Gets(1, R"({"ttlMs": 60000, "namespace": "gone"})"));
  uint64_t removed = 0;
  ASSERT_TRUE(Invalidate(R"({"wholeNamespace": true, "namespace": "gone"})", &removed).ok());
  EXPECT_EQ(removed, 1u);
  ASSERT_EQ(calls_.load(), 2);

  Restart();
  EXPECT_EQ(Stats().entries(), 1u);
  EXPECT_THAT(daemon_->Stderr(),
              ::testing::HasSubstr("cache: 1 entries restored from the journal (0 expired"));
  const v1::BatchSummary again = Process(Gets(1));
  ASSERT_EQ(again.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_TRUE(again.results(0).cached());
  EXPECT_EQ(again.results(0).cached_from().batch_id(), first.batch_id());
  EXPECT_EQ(calls_.load(), 2);
  // The invalidated namespace stayed invalidated.
  EXPECT_FALSE(Process(Gets(1, R"({"ttlMs": 60000, "namespace": "gone"})")).results(0).cached());
  EXPECT_EQ(calls_.load(), 3);
}

TEST_F(CacheRestartTest, AnEntryWhoseTtlPassedWhileBatchdWasDownIsNotServed) {
  Serve();
  Process(Gets(1, R"({"ttlMs": 1500})"));
  const absl::Time stored = absl::Now();
  Restart();
  // Whatever the restart took, wait out the TTL before asking again.
  absl::SleepFor(absl::Milliseconds(1600) - (absl::Now() - stored));
  EXPECT_FALSE(Process(Gets(1, R"({"ttlMs": 1500})")).results(0).cached());
  EXPECT_EQ(calls_.load(), 2);
}

}  // namespace
}  // namespace batchd
