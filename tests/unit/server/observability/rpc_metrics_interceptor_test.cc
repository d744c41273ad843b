#include "server/observability/rpc_metrics_interceptor.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/observability/prometheus_metrics.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Bounds every call so a broken server fails the test instead of hanging it.
constexpr std::chrono::seconds kCallTimeout{30};

constexpr char kGetProgress[] = "/batchd.v1.BatchService/GetProgress";
constexpr char kWatchProgress[] = "/batchd.v1.BatchService/WatchProgress";

// Writes `updates` responses, then finishes with `status`.
class ProgressWriter final : public grpc::ServerWriteReactor<v1::WatchProgressResponse> {
 public:
  ProgressWriter(int updates, grpc::Status status) : left_(updates), status_(std::move(status)) {
    WriteOrFinish();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    WriteOrFinish();
  }
  void OnDone() override { delete this; }

 private:
  void WriteOrFinish() {
    if (left_-- == 0) return Finish(status_);
    StartWrite(&response_);
  }

  int left_;
  const grpc::Status status_;
  v1::WatchProgressResponse response_;
};

// Answers GetProgress and WatchProgress with the status the test sets; every other method is
// left to gRPC's UNIMPLEMENTED.
class ScriptedBatchService final : public v1::BatchService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetProgress(grpc::CallbackServerContext* context,
                                        const v1::GetProgressRequest*,
                                        v1::GetProgressResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::MutexLock lock(&mu_);
    reactor->Finish(status_);
    return reactor;
  }
  grpc::ServerWriteReactor<v1::WatchProgressResponse>* WatchProgress(
      grpc::CallbackServerContext*, const v1::WatchProgressRequest*) override {
    absl::MutexLock lock(&mu_);
    return new ProgressWriter(updates_, status_);
  }

  // Under a lock the handlers take too, so ThreadSanitizer sees the test's edit happen before
  // the call that reads it.
  void Answer(grpc::Status status, int updates = 0) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
    updates_ = updates;
  }

 private:
  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  int updates_ ABSL_GUARDED_BY(mu_) = 0;
};

class RpcMetricsInterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<RpcMetricsInterceptorFactory>(metrics_));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::BatchService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    server_->Shutdown();
    server_->Wait();
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  }

  grpc::Status GetProgress() {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetProgressResponse response;
    return stub_->GetProgress(&context, v1::GetProgressRequest(), &response);
  }

  // The status the stream ended with; `*read` counts the responses read.
  grpc::Status WatchProgress(int* read) {
    grpc::ClientContext context;
    SetDeadline(&context);
    std::unique_ptr<grpc::ClientReader<v1::WatchProgressResponse>> reader =
        stub_->WatchProgress(&context, v1::WatchProgressRequest());
    v1::WatchProgressResponse response;
    *read = 0;
    while (reader->Read(&response)) ++*read;
    return reader->Finish();
  }

  // The exposition line of batchd_rpcs_total for `method` and `code`.
  static std::string Line(const std::string& method, const std::string& code, int count) {
    return absl::StrCat("batchd_rpcs_total{method=\"", method, "\",code=\"", code, "\"} ", count,
                        "\n");
  }
  std::string Rendered() const { return metrics_.Render({}, {}); }

  PrometheusMetrics metrics_;
  ScriptedBatchService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::BatchService::Stub> stub_;
};

TEST_F(RpcMetricsInterceptorTest, CountsNothingBeforeAnyCall) {
  EXPECT_THAT(Rendered(), Not(HasSubstr("batchd_rpcs_total{")));
}

// The status is counted before it is sent, so the client never sees an RPC the metrics miss.
TEST_F(RpcMetricsInterceptorTest, CountsAFinishedUnaryCallByMethodAndCode) {
  ASSERT_TRUE(GetProgress().ok());
  EXPECT_THAT(Rendered(), HasSubstr(Line(kGetProgress, "OK", 1)));
  ASSERT_TRUE(GetProgress().ok());
  EXPECT_THAT(Rendered(), HasSubstr(Line(kGetProgress, "OK", 2)));
}

TEST_F(RpcMetricsInterceptorTest, CountsEachCodeOnItsOwnLine) {
  service_.Answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "no batch"));
  EXPECT_EQ(GetProgress().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetProgress().error_code(), grpc::StatusCode::NOT_FOUND);
  service_.Answer(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no token"));
  EXPECT_EQ(GetProgress().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  service_.Answer(grpc::Status::OK);
  EXPECT_TRUE(GetProgress().ok());
  const std::string text = Rendered();
  EXPECT_THAT(text, HasSubstr(Line(kGetProgress, "NOT_FOUND", 2)));
  EXPECT_THAT(text, HasSubstr(Line(kGetProgress, "UNAUTHENTICATED", 1)));
  EXPECT_THAT(text, HasSubstr(Line(kGetProgress, "OK", 1)));
}

TEST_F(RpcMetricsInterceptorTest, NamesEveryCanonicalCode) {
  const std::vector<std::pair<grpc::StatusCode, std::string>> codes = {
      {grpc::StatusCode::CANCELLED, "CANCELLED"},
      {grpc::StatusCode::UNKNOWN, "UNKNOWN"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {grpc::StatusCode::ABORTED, "ABORTED"},
      {grpc::StatusCode::OUT_OF_RANGE, "OUT_OF_RANGE"},
      {grpc::StatusCode::UNIMPLEMENTED, "UNIMPLEMENTED"},
      {grpc::StatusCode::INTERNAL, "INTERNAL"},
      {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::StatusCode::DATA_LOSS, "DATA_LOSS"},
      {grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
  };
  for (const auto& [code, name] : codes) {
    service_.Answer(grpc::Status(code, "scripted"));
    EXPECT_EQ(GetProgress().error_code(), code) << name;
  }
  const std::string text = Rendered();
  for (const auto& [code, name] : codes) EXPECT_THAT(text, HasSubstr(Line(kGetProgress, name, 1)));
}

TEST_F(RpcMetricsInterceptorTest, CountsACodeOutsideTheCanonicalOnesAsUnknown) {
  // 20: past the canonical codes, yet inside the enum's range (0..31), so not undefined.
  service_.Answer(grpc::Status(static_cast<grpc::StatusCode>(20), "not a canonical code"));
  EXPECT_EQ(static_cast<int>(GetProgress().error_code()), 20);
  EXPECT_THAT(Rendered(), HasSubstr(Line(kGetProgress, "UNKNOWN", 1)));
}

TEST_F(RpcMetricsInterceptorTest, CountsAServerStreamOnceWhenItFinishes) {
  service_.Answer(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "batch gone"), 3);
  int read = 0;
  EXPECT_EQ(WatchProgress(&read).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(read, 3);
  const std::string text = Rendered();
  EXPECT_THAT(text, HasSubstr(Line(kWatchProgress, "FAILED_PRECONDITION", 1)));
  EXPECT_THAT(text, Not(HasSubstr(Line(kWatchProgress, "OK", 1))));
}

TEST_F(RpcMetricsInterceptorTest, CountsAMethodTheServiceDoesNotImplement) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetBatchResponse response;
  EXPECT_EQ(stub_->GetBatch(&context, v1::GetBatchRequest(), &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(Rendered(), HasSubstr(Line("/batchd.v1.BatchService/GetBatch", "UNIMPLEMENTED", 1)));
}

}  // namespace
}  // namespace batchd::server
