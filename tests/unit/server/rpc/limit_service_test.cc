// LimitService through a real gRPC server on a loopback port with a real Scheduler: the token is
// checked first, a limit set is answered with its state, listed and known to submit at once,
// bad limits are INVALID_ARGUMENT with BadRequest details naming the field, deleting an unknown
// key is NOT_FOUND. Limits holding and releasing tasks are in
// tests/integration/limits_test.cc.
#include "server/rpc/limit_service.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/executors/executor_registry.h"
#include "core/time/asio_timer_service.h"
#include "core/time/clock.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "server/rpc/grpc_server.h"
#include "spdlog/spdlog.h"
#include "tests/testing/strand_thread.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using Stub = v1::LimitService::Stub;

constexpr std::chrono::seconds kCallTimeout{30};  // bounds every call: a hang fails the test
constexpr char kToken[] = "s3cret";

// "field: description" of each violation in the status's google.rpc.BadRequest details.
std::vector<std::string> Violations(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::BadRequest bad_request;
  if (!details.ParseFromString(status.error_details()) || details.details_size() != 1 ||
      !details.details(0).UnpackTo(&bad_request)) {
    return {"(no BadRequest details)"};
  }
  std::vector<std::string> out;
  for (const auto& v : bad_request.field_violations()) {
    out.push_back(absl::StrCat(v.field(), ": ", v.description()));
  }
  return out;
}

v1::SetLimitRequest RateLimit(const std::string& key, int64_t units, int64_t seconds) {
  v1::SetLimitRequest request;
  request.mutable_limit()->set_key(key);
  v1::LimitRate* rate = request.mutable_limit()->add_rates();
  rate->set_units(units);
  rate->mutable_period()->set_seconds(seconds);
  return request;
}

class LimitServiceTest : public ::testing::Test {
 protected:
  LimitServiceTest() : timers_(strand_.strand(), clock_) {
    spdlog::set_level(spdlog::level::warn);
    scheduler_ = std::make_unique<core::Scheduler>(strand_.strand(), clock_, timers_, registry_,
                                                   core::SchedulerOptions{});
  }
  ~LimitServiceTest() override {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->Wait();
    }
    conversions_.Join();
    strand_.Stop();
    scheduler_.reset();
  }

  bool Serve(std::string token = "") {
    auth_.emplace(token);
    service_.emplace(*scheduler_, clock_, *auth_, conversions_);
    grpc::Service* const services[] = {&*service_};
    absl::StatusOr<RunningServer> running = StartGrpcServer("127.0.0.1:0", services);
    if (!running.ok()) {
      ADD_FAILURE() << running.status();
      return false;
    }
    server_ = std::move(running->server);
    stub_ = v1::LimitService::NewStub(
        grpc::CreateChannel(running->address, grpc::InsecureChannelCredentials()));
    token_ = std::move(token);
    return true;
  }

  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response, bool with_token = true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    if (with_token && !token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
    return (stub_.get()->*method)(&context, request, response);
  }

  std::vector<v1::LimitStatus> List() {
    v1::ListLimitsResponse response;
    const grpc::Status status = Call(&Stub::ListLimits, v1::ListLimitsRequest{}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.limits().begin(), response.limits().end()};
  }

  testing::StrandThread strand_;
  core::SystemClock clock_;
  core::AsioTimerService timers_;
  core::ExecutorRegistry registry_;
  std::unique_ptr<core::Scheduler> scheduler_;
  ConversionPool conversions_{2};
  std::optional<AuthCheck> auth_;
  std::optional<LimitService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Stub> stub_;
  std::string token_;
};

TEST_F(LimitServiceTest, SetLimitAnswersItsStateAndListLimitsShowsIt) {
  ASSERT_TRUE(Serve());
  v1::SetLimitRequest request = RateLimit("openai", 20, 1);
  request.mutable_limit()->set_max_in_flight(2);
  request.mutable_limit()->mutable_rates(0)->set_burst(5);
  v1::SetLimitResponse response;
  const grpc::Status status = Call(&Stub::SetLimit, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status().limit().key(), "openai");
  EXPECT_EQ(response.status().limit().max_in_flight(), 2);
  EXPECT_EQ(response.status().limit().rates(0).burst(), 5);
  EXPECT_EQ(response.status().in_flight(), 0);
  EXPECT_EQ(response.status().waiting(), 0u);
  EXPECT_THAT(response.status().available(), ElementsAre(5));
  EXPECT_THAT(response.status().effective_units(), ElementsAre(20));
  EXPECT_FALSE(response.status().has_paused_until());
  EXPECT_TRUE(scheduler_->limit_catalog().Contains("openai")) << "submit knows it at once";

  ASSERT_TRUE(Call(&Stub::SetLimit, RateLimit("db", 3, 60), &response).ok());
  const std::vector<v1::LimitStatus> limits = List();
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_EQ(limits[0].limit().key(), "db") << "by key";
  EXPECT_EQ(limits[0].limit().rates(0).period().seconds(), 60);
  EXPECT_EQ(limits[1].limit().key(), "openai");
  EXPECT_EQ(limits[1].limit().max_in_flight(), 2);
}

TEST_F(LimitServiceTest, SetLimitAgainReconfiguresTheKey) {
  ASSERT_TRUE(Serve());
  v1::SetLimitResponse response;
  ASSERT_TRUE(Call(&Stub::SetLimit, RateLimit("k", 5, 1), &response).ok());
  ASSERT_TRUE(Call(&Stub::SetLimit, RateLimit("k", 50, 1), &response).ok());
  const std::vector<v1::LimitStatus> limits = List();
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].limit().rates(0).units(), 50);
}

TEST_F(LimitServiceTest, ABadLimitIsInvalidArgumentNamingTheField) {
  ASSERT_TRUE(Serve());
  v1::SetLimitRequest request = RateLimit("k", 5, 1);
  request.mutable_limit()->add_rates()->set_units(5);  // no period
  request.mutable_limit()->set_max_in_flight(-1);
  v1::SetLimitResponse response;
  const grpc::Status status = Call(&Stub::SetLimit, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "Limit 'k': max_in_flight must be at least 1, got -1 (and 1 more)");
  EXPECT_THAT(
      Violations(status),
      ElementsAre("limit.max_in_flight: Limit 'k': max_in_flight must be at least 1, got -1",
                  "limit.rates[1].period: Limit 'k': limit.rates[1].period is missing (a "
                  "positive duration, e.g. 1s)"));
  EXPECT_TRUE(List().empty()) << "nothing set";
  EXPECT_FALSE(scheduler_->limit_catalog().Contains("k"));
}

TEST_F(LimitServiceTest, AnEmptyLimitNamesTheKeyAndTheBounds) {
  ASSERT_TRUE(Serve());
  v1::SetLimitResponse response;
  const grpc::Status status = Call(&Stub::SetLimit, v1::SetLimitRequest{}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(status),
              ElementsAre("limit.key: Limit key must not be empty",
                          "limit.rates: Limit '' has neither max_in_flight nor a rate"));
}

TEST_F(LimitServiceTest, DeleteLimitRemovesTheKey) {
  ASSERT_TRUE(Serve());
  v1::SetLimitResponse set;
  ASSERT_TRUE(Call(&Stub::SetLimit, RateLimit("k", 5, 1), &set).ok());
  v1::DeleteLimitRequest request;
  request.set_key("k");
  v1::DeleteLimitResponse response;
  const grpc::Status status = Call(&Stub::DeleteLimit, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(List().empty());
  EXPECT_FALSE(scheduler_->limit_catalog().Contains("k"));
}

TEST_F(LimitServiceTest, DeletingAnUnknownKeyIsNotFound) {
  ASSERT_TRUE(Serve());
  v1::DeleteLimitRequest request;
  request.set_key("ghost");
  v1::DeleteLimitResponse response;
  const grpc::Status status = Call(&Stub::DeleteLimit, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "No limit 'ghost'");
}

TEST_F(LimitServiceTest, DeletingAnEmptyKeyIsInvalidArgument) {
  ASSERT_TRUE(Serve());
  v1::DeleteLimitResponse response;
  const grpc::Status status = Call(&Stub::DeleteLimit, v1::DeleteLimitRequest{}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "key is empty");
  EXPECT_THAT(Violations(status), ElementsAre("key: key is empty"));
}

TEST_F(LimitServiceTest, EveryCallNeedsTheToken) {
  ASSERT_TRUE(Serve(kToken));
  v1::SetLimitResponse set;
  v1::ListLimitsResponse list;
  v1::DeleteLimitResponse deleted;
  v1::DeleteLimitRequest delete_request;
  delete_request.set_key("k");
  for (const grpc::Status& status :
       {Call(&Stub::SetLimit, RateLimit("k", 5, 1), &set, /*with_token=*/false),
        Call(&Stub::ListLimits, v1::ListLimitsRequest{}, &list, /*with_token=*/false),
        Call(&Stub::DeleteLimit, delete_request, &deleted, /*with_token=*/false)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), AuthCheck::kRejectMessage);
  }
  EXPECT_FALSE(scheduler_->limit_catalog().Contains("k"));
  EXPECT_TRUE(Call(&Stub::SetLimit, RateLimit("k", 5, 1), &set).ok());
}

}  // namespace
}  // namespace batchd::server
