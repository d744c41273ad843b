// Shared limits through the real daemon, as clients use them over gRPC: LimitService sets, lists
// and deletes limits; batches naming them are checked at submit (unknown keys, units over a
// burst); tasks of two clients share one key's concurrency; a rate spreads starts; a waiting task
// shows in progress, times out with queue_timeout_ms, and starts when its limit is deleted. The
// daemon keeps serving after every refused request. Timing checks are one-sided with wide
// margins (they must hold on a busy 2-core machine).
#include <google/protobuf/util/time_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "batchd/v1/limit_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/batch_waits.h"
#include "tests/testing/daemon_test_base.h"

namespace batchd {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::chrono::seconds kCallTimeout{30};
constexpr absl::Duration kBatchTimeout = absl::Seconds(60);

using Tasks = google::protobuf::RepeatedPtrField<v1::Task>;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return context;
}

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

v1::Limit ConcurrencyLimit(const std::string& key, int64_t max_in_flight) {
  v1::Limit limit;
  limit.set_key(key);
  limit.set_max_in_flight(max_in_flight);
  return limit;
}

v1::Limit RateLimit(const std::string& key, int64_t units, int64_t seconds, int64_t burst) {
  v1::Limit limit;
  limit.set_key(key);
  v1::LimitRate* rate = limit.add_rates();
  rate->set_units(units);
  rate->mutable_period()->set_seconds(seconds);
  rate->set_burst(burst);
  return limit;
}

v1::Task* AddTask(Tasks* tasks, const std::string& id, const std::string& executor,
                  const std::string& limit_key, int64_t units = 0) {
  v1::Task* task = tasks->Add();
  task->set_id(id);
  task->set_executor(executor);
  if (!limit_key.empty()) {
    v1::LimitUse* use = task->add_limits();
    use->set_key(limit_key);
    use->set_units(units);
  }
  return task;
}

v1::Task* AddSleep(Tasks* tasks, const std::string& id, int ms, const std::string& limit_key) {
  v1::Task* task = AddTask(tasks, id, "sleep", limit_key);
  (*task->mutable_input()->mutable_struct_value()->mutable_fields())["ms"].set_number_value(ms);
  return task;
}

// A gRPC channel with its own connection: a second client, not a second stub on one socket.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

class LimitsTest : public testing::DaemonTestBase {
 protected:
  void SetUp() override {
    DaemonTestBase::SetUp();
    if (daemon_ != nullptr) limits_ = v1::LimitService::NewStub(daemon_->NewChannel());
  }

  grpc::Status SetLimit(const v1::Limit& limit, v1::LimitStatus* out = nullptr) {
    v1::SetLimitRequest request;
    *request.mutable_limit() = limit;
    v1::SetLimitResponse response;
    grpc::Status status = limits_->SetLimit(Context().get(), request, &response);
    if (out != nullptr) *out = response.status();
    return status;
  }
  grpc::Status DeleteLimit(const std::string& key) {
    v1::DeleteLimitRequest request;
    request.set_key(key);
    v1::DeleteLimitResponse response;
    return limits_->DeleteLimit(Context().get(), request, &response);
  }
  std::vector<v1::LimitStatus> ListLimits() {
    v1::ListLimitsResponse response;
    const grpc::Status status = limits_->ListLimits(Context().get(), {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.limits().begin(), response.limits().end()};
  }

  grpc::Status Submit(v1::BatchService::Stub& stub, const v1::SubmitBatchRequest& request,
                      std::string* batch_id = nullptr) {
    v1::SubmitBatchResponse response;
    grpc::Status status = stub.SubmitBatch(Context().get(), request, &response);
    if (batch_id != nullptr) *batch_id = response.batch_id();
    return status;
  }
  std::string MustSubmit(v1::BatchService::Stub& stub, const v1::SubmitBatchRequest& request) {
    std::string id;
    const grpc::Status status = Submit(stub, request, &id);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return id;
  }
  v1::BatchProgress Progress(const std::string& batch_id) {
    v1::GetProgressRequest request;
    request.set_batch_id(batch_id);
    v1::GetProgressResponse response;
    const grpc::Status status = batches_->GetProgress(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.progress();
  }
  // Polls until `done(progress)` holds; false (with a failure) after `timeout`.
  template <typename Done>
  bool WaitForProgress(const std::string& batch_id, Done done,
                       absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (done(Progress(batch_id))) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "batch " << batch_id << ": progress never got there";
    return false;
  }

  // The daemon still answers and still runs a batch.
  void ExpectStillServing() {
    ListLimits();
    v1::SubmitBatchRequest request;
    AddTask(request.mutable_tasks(), "after", "echo", "");
    const std::string id = MustSubmit(*batches_, request);
    if (id.empty()) return;
    EXPECT_EQ(testing::WaitForBatchEnd(*batches_, id, kBatchTimeout).state(),
              v1::BATCH_STATE_SUCCEEDED);
  }

  std::unique_ptr<v1::LimitService::Stub> limits_;
};

TEST_F(LimitsTest, SetLimitThenListLimitsShowsIt) {
  v1::Limit limit = RateLimit("openai", 90000, 60, 10000);
  limit.set_max_in_flight(4);
  v1::LimitStatus status;
  ASSERT_TRUE(SetLimit(limit, &status).ok());
  EXPECT_EQ(status.limit().key(), "openai");

  const std::vector<v1::LimitStatus> listed = ListLimits();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].limit().key(), "openai");
  EXPECT_EQ(listed[0].limit().max_in_flight(), 4);
  ASSERT_EQ(listed[0].limit().rates_size(), 1);
  EXPECT_EQ(listed[0].limit().rates(0).units(), 90000);
  EXPECT_EQ(listed[0].limit().rates(0).period().seconds(), 60);
  EXPECT_EQ(listed[0].limit().rates(0).burst(), 10000);
  EXPECT_EQ(listed[0].in_flight(), 0);
  EXPECT_EQ(listed[0].waiting(), 0u);
  EXPECT_THAT(listed[0].available(), ElementsAre(10000));
  EXPECT_THAT(listed[0].effective_units(), ElementsAre(90000));
}

TEST_F(LimitsTest, ABadPeriodIsRefusedNamingTheField) {
  v1::Limit limit = RateLimit("k", 5, 0, 5);
  const grpc::Status status = SetLimit(limit);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "Limit 'k': rates[0].period must be positive, got 0");
  EXPECT_THAT(Violations(status),
              ElementsAre("limit.rates[0].period: Limit 'k': rates[0].period must be positive, "
                          "got 0"));
  limit.mutable_rates(0)->clear_period();
  EXPECT_THAT(Violations(SetLimit(limit)),
              ElementsAre("limit.rates[0].period: Limit 'k': limit.rates[0].period is missing (a "
                          "positive duration, e.g. 1s)"));
  EXPECT_THAT(ListLimits(), IsEmpty());
  ExpectStillServing();
}

TEST_F(LimitsTest, AnUnknownKeyIsRefusedUnlessAllowed) {
  v1::SubmitBatchRequest request;
  AddTask(request.mutable_tasks(), "a", "echo", "");
  AddTask(request.mutable_tasks(), "b", "echo", "ghost");
  const grpc::Status status = Submit(*batches_, request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "Unknown limit 'ghost' named by task 'b' (configure it, or set "
            "options.allow_unknown_limits)");
  EXPECT_THAT(Violations(status),
              ElementsAre("tasks[1].limits[0].key: Unknown limit 'ghost' named by task 'b' "
                          "(configure it, or set options.allow_unknown_limits)"));

  request.mutable_options()->set_allow_unknown_limits(true);
  const std::string id = MustSubmit(*batches_, request);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(testing::WaitForBatchEnd(*batches_, id, kBatchTimeout).state(),
            v1::BATCH_STATE_SUCCEEDED);
}

TEST_F(LimitsTest, UnitsOverTheBurstAreRefusedWithTheNumbers) {
  ASSERT_TRUE(SetLimit(RateLimit("tokens", 100, 1, 50)).ok());
  v1::SubmitBatchRequest request;
  AddTask(request.mutable_tasks(), "fits", "echo", "tokens", 50);
  AddTask(request.mutable_tasks(), "big", "echo", "tokens", 51);
  const grpc::Status status = Submit(*batches_, request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(status),
              ElementsAre("tasks[1].limits[0].units: 51 units of limit 'tokens' named by task "
                          "'big' exceed the burst 50 of its rate 0 (100 per 1s (burst 50)): it "
                          "could never start"));

  v1::SubmitBatchRequest negative;
  AddTask(negative.mutable_tasks(), "neg", "echo", "tokens", -2);
  EXPECT_THAT(Violations(Submit(*batches_, negative)),
              ElementsAre("tasks[0].limits[0].units: tasks[0].limits[0].units: units of limit "
                          "'tokens' must not be negative, got -2"));
  ExpectStillServing();
}

struct Interval {
  int64_t start_ns;
  int64_t end_ns;
};

// The most intervals open at once; an interval ending when another starts does not overlap it.
size_t MaxOverlap(const std::vector<Interval>& intervals) {
  std::vector<std::pair<int64_t, int>> events;
  for (const Interval& i : intervals) {
    events.emplace_back(i.start_ns, +1);
    events.emplace_back(i.end_ns, -1);
  }
  std::sort(events.begin(), events.end());  // at equal times -1 sorts first
  size_t open = 0;
  size_t most = 0;
  for (const auto& [at, delta] : events) {
    open += delta;
    most = std::max(most, open);
  }
  return most;
}

TEST_F(LimitsTest, TwoClientsShareOneKeysConcurrency) {
  ASSERT_TRUE(SetLimit(ConcurrencyLimit("k", 2)).ok());
  std::unique_ptr<v1::BatchService::Stub> clients[] = {
      v1::BatchService::NewStub(OwnChannel(daemon_->address())),
      v1::BatchService::NewStub(OwnChannel(daemon_->address()))};
  std::vector<std::string> ids;
  for (size_t c = 0; c < 2; ++c) {
    v1::SubmitBatchRequest request;
    for (int i = 0; i < 5; ++i) AddSleep(request.mutable_tasks(), absl::StrCat("t", i), 150, "k");
    ids.push_back(MustSubmit(*clients[c], request));
  }
  ASSERT_FALSE(ids[1].empty());

  // While tasks wait, progress says so and why.
  bool saw_reason = false;
  WaitForProgress(ids[1], [&](const v1::BatchProgress& p) {
    for (const v1::LimitWait& w : p.limit_waits()) {
      if (p.throttled_tasks() > 0 && w.key() == "k" && w.tasks() > 0 &&
          w.reason() == "waiting for limit 'k' (concurrency)") {
        saw_reason = true;
      }
    }
    return saw_reason || p.state() == v1::BATCH_STATE_SUCCEEDED;
  });
  EXPECT_TRUE(saw_reason);

  std::vector<Interval> intervals;
  for (const std::string& id : ids) {
    const v1::BatchSummary summary = testing::WaitForBatchEnd(*batches_, id, kBatchTimeout);
    EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
    for (const v1::TaskResult& r : summary.results()) {
      intervals.push_back({TimeUtil::TimestampToNanoseconds(r.started_at()),
                           TimeUtil::TimestampToNanoseconds(r.finished_at())});
    }
  }
  ASSERT_EQ(intervals.size(), 10u);
  EXPECT_EQ(MaxOverlap(intervals), 2u);
  const v1::BatchProgress done = Progress(ids[0]);
  EXPECT_EQ(done.throttled_tasks(), 0u);
  EXPECT_THAT(done.limit_waits(), IsEmpty());
}

TEST_F(LimitsTest, ARateSpreadsStarts) {
  constexpr int kTasks = 40;
  constexpr double kRate = 20;  // per second
  constexpr double kBurst = 5;
  ASSERT_TRUE(SetLimit(RateLimit("r", 20, 1, 5)).ok());
  v1::SubmitBatchRequest request;
  for (int i = 0; i < kTasks; ++i)
    AddTask(request.mutable_tasks(), absl::StrCat("e", i), "echo", "r");
  const std::string id = MustSubmit(*batches_, request);
  ASSERT_FALSE(id.empty());
  const v1::BatchSummary summary = testing::WaitForBatchEnd(*batches_, id, kBatchTimeout);
  EXPECT_EQ(summary.state(), v1::BATCH_STATE_SUCCEEDED);
  std::vector<int64_t> starts;
  for (const v1::TaskResult& r : summary.results()) {
    starts.push_back(TimeUtil::TimestampToNanoseconds(r.started_at()));
  }
  ASSERT_EQ(starts.size(), static_cast<size_t>(kTasks));
  std::sort(starts.begin(), starts.end());
  // A bucket never lets more than burst + rate * window start in a window. Lateness only
  // spreads starts further; 50 ms and one start of slack cover timestamp jitter.
  for (size_t i = 0; i < starts.size(); ++i) {
    for (size_t j = i; j < starts.size(); ++j) {
      const double window_s = static_cast<double>(starts[j] - starts[i]) / 1e9;
      EXPECT_LE(static_cast<double>(j - i + 1), kBurst + kRate * (window_s + 0.05) + 1)
          << "starts " << i << ".." << j << " within " << window_s << " s";
    }
  }
  // 35 starts past the burst take at least 1.75 s.
  EXPECT_GE(static_cast<double>(starts.back() - starts.front()) / 1e9, 1.5);
}

TEST_F(LimitsTest, AQueueTimeoutEndsAWaitingTaskTimedOut) {
  ASSERT_TRUE(SetLimit(ConcurrencyLimit("q", 1)).ok());
  v1::SubmitBatchRequest hold;
  AddSleep(hold.mutable_tasks(), "hold", 2000, "q");
  const std::string hold_id = MustSubmit(*batches_, hold);
  ASSERT_FALSE(hold_id.empty());
  WaitForProgress(hold_id, [](const v1::BatchProgress& p) { return p.running_tasks() == 1; });

  v1::SubmitBatchRequest waiter;
  AddTask(waiter.mutable_tasks(), "w", "echo", "q");
  waiter.mutable_options()->set_queue_timeout_ms(200);
  const std::string waiter_id = MustSubmit(*batches_, waiter);
  ASSERT_FALSE(waiter_id.empty());
  const v1::BatchSummary summary = testing::WaitForBatchEnd(*batches_, waiter_id, kBatchTimeout);
  ASSERT_EQ(summary.results_size(), 1);
  EXPECT_EQ(summary.results(0).state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(summary.results(0).error(), "Timeout after waiting 200 ms for limit 'q' (concurrency)");
  EXPECT_EQ(testing::WaitForBatchEnd(*batches_, hold_id, kBatchTimeout).state(),
            v1::BATCH_STATE_SUCCEEDED);
}

TEST_F(LimitsTest, DeletingALimitFreesItsWaiters) {
  const grpc::Status unknown = DeleteLimit("ghost");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "No limit 'ghost'");

  ASSERT_TRUE(SetLimit(ConcurrencyLimit("d", 1)).ok());
  v1::SubmitBatchRequest hold;
  AddSleep(hold.mutable_tasks(), "hold", 20000, "d");
  const std::string hold_id = MustSubmit(*batches_, hold);
  ASSERT_FALSE(hold_id.empty());
  WaitForProgress(hold_id, [](const v1::BatchProgress& p) { return p.running_tasks() == 1; });

  v1::SubmitBatchRequest waiters;
  for (int i = 0; i < 3; ++i) AddTask(waiters.mutable_tasks(), absl::StrCat("w", i), "echo", "d");
  const std::string waiters_id = MustSubmit(*batches_, waiters);
  ASSERT_FALSE(waiters_id.empty());
  WaitForProgress(waiters_id, [](const v1::BatchProgress& p) { return p.throttled_tasks() == 3; });
  const std::vector<v1::LimitStatus> listed = ListLimits();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].in_flight(), 1);
  EXPECT_EQ(listed[0].waiting(), 3u);

  ASSERT_TRUE(DeleteLimit("d").ok());
  EXPECT_EQ(testing::WaitForBatchEnd(*batches_, waiters_id, absl::Seconds(10)).state(),
            v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(Progress(hold_id).running_tasks(), 1u) << "the waiters did not wait for the hold";
  EXPECT_THAT(ListLimits(), IsEmpty());
  EXPECT_EQ(DeleteLimit("d").error_code(), grpc::StatusCode::NOT_FOUND);

  v1::CancelBatchRequest cancel;
  cancel.set_batch_id(hold_id);
  v1::CancelBatchResponse cancelled;
  EXPECT_TRUE(batches_->CancelBatch(Context().get(), cancel, &cancelled).ok());
}

}  // namespace
}  // namespace batchd
