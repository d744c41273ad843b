#include "core/workers/worker_hub.h"

#include <boost/json.hpp>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/executors/builtin_executors.h"
#include "core/scheduling/scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/fake_worker_connection.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::FakeWorkerConnection;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using Connection = std::shared_ptr<FakeWorkerConnection>;

TaskSpec MakeTask(std::string id, std::string executor, boost::json::value input = nullptr,
                  std::vector<std::string> deps = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.executor = std::move(executor);
  t.input = std::move(input);
  t.dependencies = std::move(deps);
  return t;
}

// `n` tasks "t0".."t<n-1>" for `executor`.
BatchSpec ManyTasks(int n, const std::string& executor) {
  BatchSpec spec;
  for (int i = 0; i < n; ++i) spec.tasks.push_back(MakeTask("t" + std::to_string(i), executor));
  return spec;
}

RetryPolicySpec FixedRetry(uint32_t delay_ms, uint32_t max_retries) {
  RetryPolicySpec p;
  p.kind = RetryKind::kFixed;
  p.initial_delay_ms = delay_ms;
  p.max_retries = max_retries;
  return p;
}

RetryPolicySpec NoRetry() {
  RetryPolicySpec p;
  p.kind = RetryKind::kNone;
  return p;
}

WorkerMessage Outcome(const std::string& assignment_id, ExecutionOutcome outcome) {
  WorkerMessage m;
  m.outcomes.push_back({assignment_id, std::move(outcome)});
  return m;
}

WorkerMessage Heartbeat() {
  WorkerMessage m;
  m.heartbeat = true;
  return m;
}

WorkerMessage CancelAck(const std::string& assignment_id) {
  WorkerMessage m;
  m.cancel_acks.push_back(assignment_id);
  return m;
}

// While alive, what is logged goes to text() as "<level> <message>" lines, info and above.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(stream_);
    sink->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("captured", std::move(sink));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

class WorkerHubTest : public ::testing::Test {
 protected:
  WorkerHubTest() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    spdlog::set_level(spdlog::level::err);
    EXPECT_TRUE(RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
  }

  // Builds the hub and scheduler; tests that need other hub options call it first.
  void Start(WorkerHubOptions options = {}) {
    hub_ = std::make_unique<WorkerHub>(strand_, clock_, timers_, registry_, options);
    scheduler_ =
        std::make_unique<Scheduler>(strand_, clock_, timers_, registry_, SchedulerOptions{});
    hub_->SetCapacityListener(scheduler_.get());
  }

  Connection Connect(std::string name, std::vector<std::string> executors, uint32_t slots = 1,
                     double weight = 0) {
    WorkerRegistrationSpec spec;
    spec.name = std::move(name);
    spec.executors = std::move(executors);
    spec.slots = slots;
    spec.weight = weight;
    return Connect(std::move(spec));
  }
  Connection Connect(WorkerRegistrationSpec spec) {
    if (!hub_) Start();
    auto connection = std::make_shared<FakeWorkerConnection>();
    hub_->Register(connection, std::move(spec));
    timers_.Poll();
    return connection;
  }
  std::vector<WorkerSnapshot> ListWorkers() {
    std::optional<std::vector<WorkerSnapshot>> out;
    hub_->ListWorkers([&out](std::vector<WorkerSnapshot> workers) { out = std::move(workers); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value());
    return out.value_or(std::vector<WorkerSnapshot>{});
  }
  static std::vector<std::string> Ids(const std::vector<WorkerSnapshot>& workers) {
    std::vector<std::string> ids;
    for (const WorkerSnapshot& w : workers) ids.push_back(w.id);
    return ids;
  }
  void Send(const Connection& connection, WorkerMessage message) {
    hub_->Receive(connection.get(), std::move(message));
    timers_.Poll();
  }
  void Succeed(const Connection& connection, const std::string& assignment_id,
               boost::json::value output = nullptr) {
    Send(connection, Outcome(assignment_id, ExecutionOutcome::Success(std::move(output))));
  }
  void Disconnect(const Connection& connection, std::string reason, bool closed_by_worker = false) {
    hub_->Disconnect(connection.get(), std::move(reason), closed_by_worker);
    timers_.Poll();
  }

  absl::StatusOr<SubmitResult> TrySubmit(BatchSpec spec) {
    if (!hub_) Start();
    absl::StatusOr<SubmitResult> r = scheduler_->Submit(std::move(spec));
    timers_.Poll();
    return r;
  }
  std::string Submit(BatchSpec spec) {
    absl::StatusOr<SubmitResult> r = TrySubmit(std::move(spec));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->batch_id : "";
  }

  void Advance(int ms) { timers_.Advance(milliseconds(ms)); }

  BatchSummary Summary(const std::string& id) {
    std::optional<absl::StatusOr<BatchSummary>> out;
    scheduler_->GetSummary(id, [&](absl::StatusOr<BatchSummary> s) { out = std::move(s); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchSummary{};
  }
  BatchProgress Progress(const std::string& id) {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->GetProgress(id, [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchProgress{};
  }
  BatchProgress Cancel(const std::string& id) {
    std::optional<absl::StatusOr<BatchProgress>> out;
    scheduler_->Cancel(id, "stop", [&](absl::StatusOr<BatchProgress> p) { out = std::move(p); });
    timers_.Poll();
    EXPECT_TRUE(out.has_value() && out->ok());
    return out.has_value() && out->ok() ? **out : BatchProgress{};
  }
  static const TaskResult* ResultOf(const BatchSummary& s, const std::string& id) {
    for (const TaskResult* r : s.results) {
      if (*r->task_id == id) return r;
    }
    return nullptr;
  }
  static size_t ResultCount(const BatchSummary& s, const std::string& id) {
    size_t n = 0;
    for (const TaskResult* r : s.results) n += *r->task_id == id ? 1 : 0;
    return n;
  }
  static std::vector<std::string> TaskIds(const std::vector<WorkerAssignment>& assignments) {
    std::vector<std::string> ids;
    for (const WorkerAssignment& a : assignments) ids.push_back(a.task_id);
    return ids;
  }
  std::optional<ExecutorDescription> Describe(const std::string& name) const {
    for (ExecutorDescription& d : registry_.List()) {
      if (d.name == name) return d;
    }
    return std::nullopt;
  }

  // Declared so that the scheduler goes first, then the hub, then the registry and the strand.
  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  ExecutorRegistry registry_;
  std::unique_ptr<WorkerHub> hub_;
  std::unique_ptr<Scheduler> scheduler_;
};

// --- Registration -------------------------------------------------------------------------

TEST_F(WorkerHubTest, RegistrationAnswersWorkerIdAndHeartbeatInterval) {
  WorkerHubOptions options;
  options.heartbeat_interval = milliseconds(2500);
  Start(options);
  Connection a = Connect("alpha", {"work"});
  Connection b = Connect("beta", {"work", "other"}, 4, 2.0);
  Connection unnamed = Connect("", {"work"});
  ASSERT_EQ(a->registered().size(), 1u);
  EXPECT_EQ(a->registered()[0].worker_id, "alpha#1");
  EXPECT_EQ(a->registered()[0].heartbeat_interval_ms, 2500u);
  EXPECT_EQ(b->worker_id(), "beta#2");
  EXPECT_EQ(unnamed->worker_id(), "worker#3");
  for (const Connection& c : {a, b, unnamed}) EXPECT_THAT(c->closes(), IsEmpty());
  EXPECT_EQ(hub_->worker_count(), 3u);
}

TEST_F(WorkerHubTest, RegistrationWithoutExecutorsIsRejected) {
  Connection c = Connect("w", {});
  EXPECT_THAT(c->registered(), IsEmpty());
  ASSERT_EQ(c->closes().size(), 1u);
  EXPECT_EQ(c->closes()[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->closes()[0].message(), "registration.executors must name at least one executor");
  EXPECT_EQ(hub_->worker_count(), 0u);
}

TEST_F(WorkerHubTest, WorkerCannotServeABuiltinExecutor) {
  Connection c = Connect("w", {"echo"});
  EXPECT_THAT(c->registered(), IsEmpty());
  ASSERT_EQ(c->closes().size(), 1u);
  EXPECT_EQ(c->closes()[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->closes()[0].message(),
            "Executor 'echo' is provided by the daemon (builtin); a worker cannot serve it");
  EXPECT_EQ(hub_->worker_count(), 0u);
  // The builtin is untouched.
  EXPECT_EQ(Describe("echo")->kind, "builtin");
}

TEST_F(WorkerHubTest, SlotsAboveMaximumAreRejected) {
  WorkerHubOptions options;
  options.max_slots = 64;
  Start(options);
  Connection ok = Connect("w", {"work"}, 64);
  Connection c = Connect("w", {"work"}, 65);
  EXPECT_EQ(ok->worker_id(), "w#1");
  ASSERT_EQ(c->closes().size(), 1u);
  EXPECT_EQ(c->closes()[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->closes()[0].message(), "registration.slots must be at most 64 (got 65)");
  EXPECT_EQ(hub_->worker_count(), 1u);
}

TEST_F(WorkerHubTest, ZeroSlotsAreRejectedNamingTheField) {
  Connection c = Connect("w", {"work"}, 0);
  EXPECT_THAT(c->registered(), IsEmpty());
  ASSERT_EQ(c->closes().size(), 1u);
  EXPECT_EQ(c->closes()[0].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->closes()[0].message(), "registration.slots must be at least 1 (got 0)");
  EXPECT_EQ(hub_->worker_count(), 0u);
}

TEST_F(WorkerHubTest, BadWeightIsRejected) {
  Connection negative = Connect("w", {"work"}, 1, -1.5);
  Connection huge = Connect("w", {"work"}, 1, 2e6);
  Connection nan = Connect("w", {"work"}, 1, std::nan(""));
  for (const Connection& c : {negative, huge, nan}) {
    EXPECT_THAT(c->registered(), IsEmpty());
    ASSERT_EQ(c->closes().size(), 1u);
    EXPECT_EQ(c->closes()[0].code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(negative->closes()[0].message(),
            "registration.weight must be between 0 and 1e+06 (got -1.5)");
  EXPECT_EQ(huge->closes()[0].message(),
            "registration.weight must be between 0 and 1e+06 (got 2e+06)");
  EXPECT_EQ(nan->closes()[0].message(),
            "registration.weight must be between 0 and 1e+06 (got nan)");
  EXPECT_EQ(hub_->worker_count(), 0u);
}

// --- Dispatch -----------------------------------------------------------------------------

TEST_F(WorkerHubTest, AssignmentCarriesTaskAndDependencyOutputsOfSucceededDependencies) {
  Connection w = Connect("w", {"work"}, 2);
  BatchSpec spec;
  spec.tasks.push_back(MakeTask("a", "work", boost::json::object{{"x", 1}}));
  spec.tasks.push_back(MakeTask("f", "work", "f-input"));
  spec.tasks.push_back(MakeTask("c", "work", boost::json::array{1, 2}, {"a", "f"}));
  spec.options.timeout_ms = 1500;
  spec.options.retry_policy = NoRetry();
  spec.options.on_dependency_failure = DependencyFailure::kRunDependents;
  std::string id = Submit(std::move(spec));

  std::vector<WorkerAssignment> sent = w->assignments();
  ASSERT_EQ(sent.size(), 2u);
  const WorkerAssignment& a = sent[0];
  EXPECT_EQ(a.assignment_id, "1-0-1");  // batch seq 1, task 0, first attempt
  EXPECT_EQ(a.batch_id, id);
  EXPECT_EQ(a.task_id, "a");
  EXPECT_EQ(a.executor, "work");
  EXPECT_EQ(a.input, (boost::json::object{{"x", 1}}));
  EXPECT_EQ(a.attempt, 0u);
  EXPECT_EQ(a.timeout_ms, 1500u);
  EXPECT_EQ(a.deadline, clock_.WallNow() + milliseconds(1500));
  EXPECT_THAT(a.dependencies, IsEmpty());
  EXPECT_THAT(a.dependency_outputs, IsEmpty());
  EXPECT_EQ(sent[1].assignment_id, "1-1-1");
  EXPECT_EQ(sent[1].task_id, "f");
  EXPECT_EQ(sent[1].input, "f-input");

  Succeed(w, "1-0-1", boost::json::object{{"y", 2}});
  Send(w, Outcome("1-1-1", ExecutionOutcome::Failure("f broke")));
  ASSERT_EQ(w->assignment_count(), 3u);
  const WorkerAssignment c = w->last_assignment();
  EXPECT_EQ(c.assignment_id, "1-2-1");
  EXPECT_EQ(c.task_id, "c");
  EXPECT_EQ(c.input, (boost::json::array{1, 2}));
  EXPECT_THAT(c.dependencies, ElementsAre("a", "f"));
  // The failed dependency is listed but has no output.
  const boost::json::value a_output = boost::json::object{{"y", 2}};
  EXPECT_THAT(c.dependency_outputs, ElementsAre(Pair("a", a_output)));

  Succeed(w, "1-2-1", "done");
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  ASSERT_NE(ResultOf(s, "a"), nullptr);
  EXPECT_EQ(ResultOf(s, "a")->state, TaskState::kSucceeded);
  EXPECT_EQ(ResultOf(s, "a")->worker_id, "w#1");
  EXPECT_EQ(ResultOf(s, "a")->output, (boost::json::object{{"y", 2}}));
  EXPECT_EQ(ResultOf(s, "f")->state, TaskState::kFailed);
  EXPECT_EQ(ResultOf(s, "f")->error, "f broke");
  EXPECT_EQ(ResultOf(s, "f")->worker_id, "w#1");
  EXPECT_EQ(ResultOf(s, "c")->state, TaskState::kSucceeded);
  EXPECT_EQ(ResultOf(s, "c")->output, "done");
  EXPECT_EQ(hub_->assignment_count(), 0u);
}

TEST_F(WorkerHubTest, WorkerSlotsBoundAssignmentsAndAFreedSlotTakesTheNextTask) {
  Connection w = Connect("w", {"work"}, 2);
  BatchSpec spec = ManyTasks(5, "work");
  spec.options.max_concurrent = 10;
  std::string id = Submit(std::move(spec));
  EXPECT_THAT(TaskIds(w->assignments()), ElementsAre("t0", "t1"));
  BatchProgress p = Progress(id);
  EXPECT_EQ(p.running_tasks, 2u);
  EXPECT_EQ(p.pending_tasks, 3u);

  Succeed(w, w->assignments()[0].assignment_id);
  EXPECT_THAT(TaskIds(w->assignments()), ElementsAre("t0", "t1", "t2"));
  p = Progress(id);
  EXPECT_EQ(p.completed_tasks, 1u);
  EXPECT_EQ(p.running_tasks, 2u);
  EXPECT_EQ(p.pending_tasks, 2u);

  for (size_t i = 1; i < 5; ++i) Succeed(w, w->assignments()[i].assignment_id);
  EXPECT_EQ(w->assignment_count(), 5u);
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
}

// Regression: the freed slot used to wake only `free` parked tasks; one whose batch could not
// start it (at max_concurrent) took the slot's turn, and the worker idled while another task
// waited, for good once that batch was cancelled.
TEST_F(WorkerHubTest, FreedSlotIsNotLostToAWokenTaskThatCannotStart) {
  Connection w = Connect("w", {"work"}, 1);
  Submit(ManyTasks(1, "work"));  // t0 takes the only slot
  BatchSpec capped;
  capped.tasks.push_back(MakeTask("w1", "work"));  // parked: no free slot
  capped.tasks.push_back(MakeTask("s1", "sleep", boost::json::object{{"ms", 1000}}));
  capped.options.max_concurrent = 1;  // s1 runs, so w1 cannot start even once woken
  std::string capped_id = Submit(std::move(capped));
  BatchSpec other;
  other.tasks.push_back(MakeTask("c1", "work"));  // parked behind w1
  std::string other_id = Submit(std::move(other));
  ASSERT_THAT(TaskIds(w->assignments()), ElementsAre("t0"));

  Succeed(w, "1-0-1");
  EXPECT_THAT(TaskIds(w->assignments()), ElementsAre("t0", "c1"));
  EXPECT_EQ(Cancel(capped_id).state, BatchState::kCancelled);
  Succeed(w, w->last_assignment().assignment_id);
  EXPECT_EQ(Summary(other_id).state, BatchState::kSucceeded);
  EXPECT_THAT(TaskIds(w->assignments()), ElementsAre("t0", "c1"));  // w1 never ran
}

TEST_F(WorkerHubTest, RoundRobinSplitsFourTasksTwoAndTwo) {
  Connection a = Connect("a", {"work"}, 10);
  Connection b = Connect("b", {"work"}, 10);
  BatchSpec spec = ManyTasks(4, "work");
  spec.options.load_balancer = LoadBalancerKind::kRoundRobin;
  Submit(std::move(spec));
  EXPECT_THAT(TaskIds(a->assignments()), ElementsAre("t0", "t2"));
  EXPECT_THAT(TaskIds(b->assignments()), ElementsAre("t1", "t3"));
}

TEST_F(WorkerHubTest, WeightedThreeToOneSplitsFourHundredTasksThreeHundredToOneHundred) {
  Connection heavy = Connect("heavy", {"work"}, 400, 3.0);
  Connection light = Connect("light", {"work"}, 400, 1.0);
  BatchSpec spec = ManyTasks(400, "work");
  spec.options.load_balancer = LoadBalancerKind::kWeighted;
  spec.options.max_concurrent = 400;
  Submit(std::move(spec));
  EXPECT_EQ(heavy->assignment_count(), 300u);
  EXPECT_EQ(light->assignment_count(), 100u);
}

// --- Fencing ------------------------------------------------------------------------------

TEST_F(WorkerHubTest, DuplicateOutcomeIsIgnored) {
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.retry_policy = FixedRetry(10, 3);
  std::string id = Submit(std::move(spec));
  const std::string assignment = w->last_assignment().assignment_id;
  WorkerMessage twice = Outcome(assignment, ExecutionOutcome::Success("first"));
  twice.outcomes.push_back({assignment, ExecutionOutcome::Failure("second")});
  Send(w, std::move(twice));
  Send(w, Outcome(assignment, ExecutionOutcome::Failure("third")));
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0]->output, "first");
  EXPECT_EQ(s.results[0]->retry_count, 0u);
  EXPECT_EQ(w->assignment_count(), 1u);  // nothing was retried
}

TEST_F(WorkerHubTest, OutcomeForUnknownAssignmentIsIgnored) {
  Connection w = Connect("w", {"work"});
  std::string id = Submit(ManyTasks(1, "work"));
  for (const char* bogus : {"", "garbage", "1-0", "1-0-1-", "1-0-2", "1-7-1", "99-0-1", "-1-0-1"}) {
    Send(w, Outcome(bogus, ExecutionOutcome::Success("bogus")));
  }
  Send(w, CancelAck("1-0-1"));  // an ack for an attempt never cancelled frees nothing
  BatchProgress p = Progress(id);
  EXPECT_EQ(p.running_tasks, 1u);
  EXPECT_EQ(p.completed_tasks, 0u);
  EXPECT_EQ(hub_->assignment_count(), 1u);
  Succeed(w, "1-0-1", "real");
  EXPECT_EQ(Summary(id).results.at(0)->output, "real");
}

TEST_F(WorkerHubTest, OutcomeFromAWorkerOtherThanTheAssigneeIsIgnored) {
  Connection a = Connect("a", {"work"});
  std::string id = Submit(ManyTasks(1, "work"));
  Connection b = Connect("b", {"work"});
  ASSERT_EQ(a->assignment_count(), 1u);
  const std::string assignment = a->last_assignment().assignment_id;
  Send(b, Outcome(assignment, ExecutionOutcome::Success("from b")));
  EXPECT_EQ(Progress(id).running_tasks, 1u);
  Succeed(a, assignment, "from a");
  BatchSummary s = Summary(id);
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0]->output, "from a");
  EXPECT_EQ(s.results[0]->worker_id, "a#1");
}

// --- Timeouts and cancellation ------------------------------------------------------------

class WorkerTimeoutTest : public WorkerHubTest {
 protected:
  // One worker with one slot; "slow" times out after 1000 ms, "next" waits for the slot.
  void SetUp() override {
    worker_ = Connect("w", {"work"}, 1);
    BatchSpec spec = ManyTasks(2, "work");
    spec.tasks[0].id = "slow";
    spec.tasks[0].timeout_ms = 1000;
    spec.tasks[1].id = "next";
    spec.options.retry_policy = NoRetry();
    id_ = Submit(std::move(spec));
    ASSERT_EQ(worker_->assignment_count(), 1u);
    slow_ = worker_->last_assignment().assignment_id;
    Advance(999);
    ASSERT_THAT(worker_->cancels(), IsEmpty());
    Advance(1);
  }

  Connection worker_;
  std::string id_;
  std::string slow_;
};

TEST_F(WorkerTimeoutTest, TimeoutSendsCancelWithReasonAndLateOutcomeIsIgnored) {
  ASSERT_EQ(worker_->cancels().size(), 1u);
  EXPECT_EQ(worker_->cancels()[0].assignment_id, slow_);
  EXPECT_EQ(worker_->cancels()[0].reason, "Timeout after 1000 ms");
  BatchSummary s = Summary(id_);
  ASSERT_NE(ResultOf(s, "slow"), nullptr);
  EXPECT_EQ(ResultOf(s, "slow")->state, TaskState::kTimedOut);
  EXPECT_EQ(ResultOf(s, "slow")->error, "Timeout after 1000 ms");

  Succeed(worker_, slow_, "too late");
  s = Summary(id_);
  EXPECT_EQ(ResultCount(s, "slow"), 1u);
  EXPECT_EQ(ResultOf(s, "slow")->state, TaskState::kTimedOut);
  EXPECT_TRUE(ResultOf(s, "slow")->output.is_null());
  // The work ended, so its slot is free for the next task.
  EXPECT_THAT(TaskIds(worker_->assignments()), ElementsAre("slow", "next"));
}

TEST_F(WorkerTimeoutTest, SlotIsHeldUntilTheCancelIsAcknowledged) {
  Advance(100);
  EXPECT_EQ(worker_->assignment_count(), 1u);
  EXPECT_EQ(Progress(id_).pending_tasks, 1u);
  Send(worker_, CancelAck(slow_));
  EXPECT_THAT(TaskIds(worker_->assignments()), ElementsAre("slow", "next"));
  EXPECT_EQ(hub_->assignment_count(), 1u);
}

TEST_F(WorkerTimeoutTest, SlotIsHeldUntilTheCancelGracePasses) {
  Send(worker_, Heartbeat());  // a sign of life is not an ack
  Advance(4999);
  EXPECT_EQ(worker_->assignment_count(), 1u);
  Advance(1);  // default cancel_grace: 5 s
  EXPECT_THAT(TaskIds(worker_->assignments()), ElementsAre("slow", "next"));
  // A late ack or outcome for the released attempt frees nothing more.
  Send(worker_, CancelAck(slow_));
  Succeed(worker_, slow_);
  EXPECT_EQ(hub_->assignment_count(), 1u);
  EXPECT_EQ(Progress(id_).running_tasks, 1u);
}

TEST_F(WorkerTimeoutTest, CancelledAssignmentHoldsItsSlotInTheListUntilAcknowledged) {
  std::vector<WorkerSnapshot> workers = ListWorkers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].slots_in_use, 1u);
  Send(worker_, CancelAck(slow_));  // frees the slot; "next" takes it
  workers = ListWorkers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].slots_in_use, 1u);
  EXPECT_EQ(workers[0].completed_tasks, 0u);  // an ack is not an outcome
  Succeed(worker_, worker_->last_assignment().assignment_id);
  workers = ListWorkers();
  EXPECT_EQ(workers[0].slots_in_use, 0u);
  EXPECT_EQ(workers[0].completed_tasks, 1u);
}

TEST_F(WorkerHubTest, BatchCancelSendsCancelForEveryRunningAssignment) {
  Connection w = Connect("w", {"work"}, 2);
  std::string id = Submit(ManyTasks(3, "work"));
  ASSERT_EQ(w->assignment_count(), 2u);
  EXPECT_EQ(Cancel(id).state, BatchState::kCancelled);
  std::vector<FakeWorkerConnection::Cancel> cancels = w->cancels();
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_EQ(cancels[0].assignment_id, "1-0-1");
  EXPECT_EQ(cancels[1].assignment_id, "1-1-1");
  EXPECT_EQ(cancels[0].reason, "Cancelled: stop");
  EXPECT_EQ(cancels[1].reason, "Cancelled: stop");
  EXPECT_EQ(w->assignment_count(), 2u);  // the pending task is never sent
  // Slots stay held until the acks arrive.
  EXPECT_EQ(hub_->assignment_count(), 2u);
  WorkerMessage acks = CancelAck("1-0-1");
  acks.cancel_acks.push_back("1-1-1");
  Send(w, std::move(acks));
  EXPECT_EQ(hub_->assignment_count(), 0u);
}

// --- Lost workers -------------------------------------------------------------------------

TEST_F(WorkerHubTest, DisconnectRedispatchesRunningTaskWithoutSpendingRetries) {
  Connection a = Connect("a", {"work"});
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.retry_policy = FixedRetry(10, 3);
  std::string id = Submit(std::move(spec));
  Connection b = Connect("b", {"work"});
  ASSERT_EQ(a->assignment_count(), 1u);
  EXPECT_EQ(b->assignment_count(), 0u);

  Disconnect(a, "stream reset");
  ASSERT_EQ(b->assignment_count(), 1u);
  const WorkerAssignment again = b->last_assignment();
  EXPECT_EQ(again.task_id, "t0");
  EXPECT_EQ(again.attempt, 0u);
  EXPECT_EQ(again.assignment_id, "1-0-2");  // a new attempt: the old id is fenced off
  EXPECT_EQ(hub_->worker_count(), 1u);

  Succeed(b, again.assignment_id, "ok");
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  EXPECT_EQ(s.results.at(0)->retry_count, 0u);
  EXPECT_EQ(s.results.at(0)->worker_id, "b#2");
  EXPECT_EQ(s.retried_count, 0u);
}

TEST_F(WorkerHubTest, WorkerClosingItsIdleStreamIsLoggedAtInfo) {
  Connection w = Connect("w", {"work"});
  CapturedLog log;
  Disconnect(w, "closed its stream", /*closed_by_worker=*/true);
  EXPECT_EQ(hub_->worker_count(), 0u);
  EXPECT_THAT(log.text(), HasSubstr("info worker w#1 left: closed its stream\n"));
  EXPECT_THAT(log.text(), Not(HasSubstr("warning")));
}

TEST_F(WorkerHubTest, WorkerClosingItsStreamWithWorkInFlightIsAWarning) {
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.wait_for_workers = true;
  Submit(std::move(spec));
  ASSERT_EQ(w->assignment_count(), 1u);
  CapturedLog log;
  Disconnect(w, "closed its stream", /*closed_by_worker=*/true);
  EXPECT_THAT(log.text(), HasSubstr("warning worker w#1 gone: closed its stream\n"));
}

TEST_F(WorkerHubTest, BrokenStreamIsAWarning) {
  Connection w = Connect("w", {"work"});
  CapturedLog log;
  Disconnect(w, "stream broken");
  EXPECT_THAT(log.text(), HasSubstr("warning worker w#1 gone: stream broken\n"));
}

TEST_F(WorkerHubTest, TaskLostThreeTimesFails) {
  Start();
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.wait_for_workers = true;
  spec.options.retry_policy = FixedRetry(10, 5);
  spec.options.timeout_ms = 60000;
  std::string id = Submit(std::move(spec));
  for (int i = 1; i <= 3; ++i) {
    Connection w = Connect("w", {"work"});
    ASSERT_EQ(w->assignment_count(), 1u) << "loss " << i;
    EXPECT_EQ(w->last_assignment().attempt, 0u);
    Disconnect(w, "crashed");
  }
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  const TaskResult& r = *s.results.at(0);
  EXPECT_EQ(r.state, TaskState::kFailed);
  EXPECT_THAT(r.error, StartsWith("Worker lost 3 times"));
  EXPECT_EQ(r.error, "Worker lost 3 times (last: Worker w#3 lost: crashed)");
  EXPECT_EQ(r.retry_count, 0u);
  EXPECT_EQ(r.worker_id, "w#3");
}

// --- Heartbeats ---------------------------------------------------------------------------

TEST_F(WorkerHubTest, SilentWorkerIsDroppedAndItsTasksRedispatched) {
  WorkerHubOptions options;
  options.heartbeat_interval = milliseconds(1000);
  options.missed_heartbeats = 3;
  Start(options);
  Connection silent = Connect("silent", {"work"});
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.timeout_ms = 60000;
  std::string id = Submit(std::move(spec));
  Connection alive = Connect("alive", {"work"});
  ASSERT_EQ(silent->assignment_count(), 1u);
  for (int i = 0; i < 2; ++i) {
    Advance(1000);
    Send(alive, Heartbeat());
  }
  Advance(999);
  EXPECT_THAT(silent->closes(), IsEmpty());
  EXPECT_EQ(alive->assignment_count(), 0u);
  Advance(1);  // silent for 3 intervals
  ASSERT_EQ(silent->closes().size(), 1u);
  EXPECT_EQ(silent->closes()[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(silent->closes()[0].message(), "Worker dropped: no heartbeat for 3000 ms");
  EXPECT_THAT(alive->closes(), IsEmpty());
  EXPECT_EQ(hub_->worker_count(), 1u);
  ASSERT_EQ(alive->assignment_count(), 1u);
  EXPECT_EQ(alive->last_assignment().task_id, "t0");
  EXPECT_EQ(alive->last_assignment().attempt, 0u);

  // The server reports the stream's end afterwards: nothing more happens.
  Disconnect(silent, "closed");
  EXPECT_EQ(hub_->worker_count(), 1u);
  Succeed(alive, alive->last_assignment().assignment_id);
  EXPECT_EQ(Summary(id).results.at(0)->worker_id, "alive#2");
}

// Regression: workers dropped in one heartbeat sweep used to be removed one by one, so the
// task of the first went to the next (still listed) and was lost twice in one sweep.
TEST_F(WorkerHubTest, WorkersDroppedInOneSweepAreNotGivenEachOthersTasks) {
  WorkerHubOptions options;
  options.heartbeat_interval = milliseconds(1000);
  Start(options);
  Connection s1 = Connect("s1", {"work"}, 2);
  Connection s2 = Connect("s2", {"work"}, 2);
  BatchSpec spec = ManyTasks(2, "work");
  spec.options.load_balancer = LoadBalancerKind::kRoundRobin;
  spec.options.timeout_ms = 60000;
  std::string id = Submit(std::move(spec));
  ASSERT_EQ(s1->assignment_count(), 1u);
  ASSERT_EQ(s2->assignment_count(), 1u);
  Advance(3000);
  ASSERT_EQ(s1->closes().size(), 1u);
  ASSERT_EQ(s2->closes().size(), 1u);
  EXPECT_EQ(s1->assignment_count() + s2->assignment_count(), 2u);
  EXPECT_EQ(Progress(id).pending_tasks, 2u);
  // Each task was lost once, so a second loss leaves both to run again (a third would fail
  // them).
  Connection w = Connect("w", {"work"}, 2);
  ASSERT_EQ(w->assignment_count(), 2u);
  Disconnect(w, "crashed");
  Connection last = Connect("last", {"work"}, 2);
  EXPECT_EQ(last->assignment_count(), 2u);
  EXPECT_EQ(Progress(id).running_tasks, 2u);
}

TEST_F(WorkerHubTest, WorkerWhoseMessagesKeepComingIsKept) {
  WorkerHubOptions options;
  options.heartbeat_interval = milliseconds(1000);
  options.missed_heartbeats = 3;
  Start(options);
  Connection w = Connect("w", {"work"});
  for (int i = 0; i < 20; ++i) {
    Advance(2500);
    Send(w, Heartbeat());
  }
  EXPECT_THAT(w->closes(), IsEmpty());
  EXPECT_EQ(hub_->worker_count(), 1u);
}

// --- No worker yet ------------------------------------------------------------------------

TEST_F(WorkerHubTest, UnknownExecutorIsRejectedWithoutWaitForWorkers) {
  absl::StatusOr<SubmitResult> r = TrySubmit(ManyTasks(1, "nobody"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Unknown executor 'nobody' of task 't0' (known: echo, external, fail, sleep)");
}

TEST_F(WorkerHubTest, TaskWaitingForAWorkerFailsAfterItsTimeout) {
  BatchSpec spec = ManyTasks(1, "nobody");
  spec.options.wait_for_workers = true;
  spec.options.timeout_ms = 2000;
  std::string id = Submit(std::move(spec));
  BatchProgress p = Progress(id);
  EXPECT_EQ(p.pending_tasks, 1u);
  EXPECT_EQ(p.running_tasks, 0u);
  Advance(1999);
  EXPECT_EQ(Progress(id).pending_tasks, 1u);
  Advance(1);
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  EXPECT_EQ(s.results.at(0)->state, TaskState::kFailed);
  EXPECT_EQ(s.results.at(0)->error, "No worker serves executor 'nobody'");
  EXPECT_EQ(s.results.at(0)->retry_count, 0u);
}

TEST_F(WorkerHubTest, TaskWaitingForAWorkerRunsWhenOneConnectsBeforeTheTimeout) {
  BatchSpec spec = ManyTasks(1, "nobody");
  spec.options.wait_for_workers = true;
  spec.options.timeout_ms = 2000;
  std::string id = Submit(std::move(spec));
  Advance(1000);
  Connection w = Connect("late", {"nobody"});
  ASSERT_EQ(w->assignment_count(), 1u);
  EXPECT_EQ(w->last_assignment().timeout_ms, 2000u);
  Advance(1500);  // past the no-worker deadline (2000 ms), before the attempt's (3000 ms)
  EXPECT_EQ(Progress(id).running_tasks, 1u);
  Succeed(w, w->last_assignment().assignment_id, "served");
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  EXPECT_EQ(s.results.at(0)->output, "served");
  EXPECT_EQ(s.results.at(0)->worker_id, "late#1");
}

TEST_F(WorkerHubTest, TasksWaitForAWorkerAgainWhenTheLastOneLeaves) {
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(2, "work");
  spec.options.timeout_ms = 2000;
  std::string id = Submit(std::move(spec));
  ASSERT_EQ(w->assignment_count(), 1u);  // t1 waits for the slot
  Advance(500);
  Disconnect(w, "gone");
  // Both now wait for a worker, up to their timeout from the moment the last worker left.
  Advance(1999);
  EXPECT_EQ(Progress(id).pending_tasks, 2u);
  Advance(1);
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  ASSERT_EQ(s.results.size(), 2u);
  for (const TaskResult* r : s.results) {
    EXPECT_EQ(r->error, "No worker serves executor 'work'") << *r->task_id;
  }
}

// --- Outcome flags ------------------------------------------------------------------------

TEST_F(WorkerHubTest, NonRetryableOutcomeFailsAtOnceDespiteRetries) {
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.retry_policy = FixedRetry(10, 3);
  std::string id = Submit(std::move(spec));
  Send(w, Outcome(w->last_assignment().assignment_id,
                  ExecutionOutcome::Failure("bad input", /*non_retryable=*/true)));
  Advance(100);
  EXPECT_EQ(w->assignment_count(), 1u);
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  EXPECT_EQ(s.results.at(0)->error, "bad input");
  EXPECT_EQ(s.results.at(0)->retry_count, 0u);
  EXPECT_EQ(s.results.at(0)->worker_id, "w#1");
}

TEST_F(WorkerHubTest, RetryAfterDelaysTheRetryExactlyThatLong) {
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(1, "work");
  spec.options.retry_policy = FixedRetry(10, 3);
  std::string id = Submit(std::move(spec));
  ExecutionOutcome busy = ExecutionOutcome::Failure("rate limited");
  busy.retry_after_ms = 750;
  Send(w, Outcome(w->last_assignment().assignment_id, std::move(busy)));
  Advance(749);
  EXPECT_EQ(w->assignment_count(), 1u);
  Advance(1);
  ASSERT_EQ(w->assignment_count(), 2u);
  EXPECT_EQ(w->last_assignment().attempt, 1u);
  EXPECT_EQ(w->last_assignment().assignment_id, "1-0-2");
  Succeed(w, "1-0-2");
  EXPECT_EQ(Summary(id).results.at(0)->retry_count, 1u);
}

// --- Listing ------------------------------------------------------------------------------

TEST_F(WorkerHubTest, RegistryListsWorkerExecutorWithWorkersAndCapacity) {
  Connection a = Connect("a", {"work"}, 2);
  Connection b = Connect("b", {"work", "extra"}, 3);
  std::optional<ExecutorDescription> work = Describe("work");
  ASSERT_TRUE(work.has_value());
  EXPECT_EQ(work->kind, "worker");
  EXPECT_EQ(work->workers, 2u);
  EXPECT_EQ(work->capacity, 5u);
  EXPECT_EQ(Describe("extra")->workers, 1u);
  EXPECT_EQ(Describe("extra")->capacity, 3u);
  EXPECT_EQ(Describe("echo")->kind, "builtin");

  Disconnect(b, "bye");
  EXPECT_EQ(Describe("work")->workers, 1u);
  EXPECT_EQ(Describe("work")->capacity, 2u);
  // Nothing serves "extra" and no batch names it: it is forgotten.
  EXPECT_FALSE(Describe("extra").has_value());
}

// --- Lifetime of worker executors -----------------------------------------------------------
// A worker executor lives while a worker serves it or an unfinished batch names it.

TEST_F(WorkerHubTest, LastWorkerLeavingForgetsAnExecutorNoBatchNames) {
  Connection a = Connect("a", {"node.upper"}, 2);
  Connection b = Connect("b", {"node.upper"}, 1);
  ASSERT_TRUE(Describe("node.upper").has_value());
  EXPECT_EQ(Describe("node.upper")->workers, 2u);
  EXPECT_EQ(Describe("node.upper")->capacity, 3u);
  EXPECT_THAT(registry_.Names(), ElementsAre("echo", "external", "fail", "node.upper", "sleep"));

  Disconnect(a, "bye");
  EXPECT_EQ(Describe("node.upper")->workers, 1u);
  Disconnect(b, "bye");
  EXPECT_FALSE(Describe("node.upper").has_value());
  EXPECT_EQ(registry_.Find("node.upper"), nullptr);
  EXPECT_THAT(registry_.Names(), ElementsAre("echo", "external", "fail", "sleep"));
  absl::StatusOr<SubmitResult> r = TrySubmit(ManyTasks(1, "node.upper"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Unknown executor 'node.upper' of task 't0' (known: echo, external, fail, sleep)");
}

TEST_F(WorkerHubTest, SilentLastWorkerDroppedForgetsItsExecutor) {
  WorkerHubOptions options;
  options.heartbeat_interval = milliseconds(1000);
  Start(options);
  Connection silent = Connect("silent", {"work"});
  Advance(3000);
  ASSERT_EQ(silent->closes().size(), 1u);
  EXPECT_FALSE(Describe("work").has_value());
}

TEST_F(WorkerHubTest, FinishedBatchDoesNotKeepItsExecutorKnown) {
  Connection w = Connect("w", {"work"});
  std::string id = Submit(ManyTasks(1, "work"));
  Succeed(w, w->last_assignment().assignment_id, "done");
  ASSERT_EQ(Summary(id).state, BatchState::kSucceeded);  // retained, but finished
  Disconnect(w, "bye");
  EXPECT_FALSE(Describe("work").has_value());
  EXPECT_EQ(Summary(id).results.at(0)->output, "done");
}

TEST_F(WorkerHubTest, ExecutorStaysListedWhileAnUnfinishedBatchNamesItThenIsForgotten) {
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(2, "work");
  spec.options.timeout_ms = 2000;
  std::string id = Submit(std::move(spec));
  ASSERT_EQ(w->assignment_count(), 1u);  // t0 runs, t1 waits for the slot
  Disconnect(w, "gone");
  std::optional<ExecutorDescription> held = Describe("work");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->kind, "worker");
  EXPECT_EQ(held->workers, 0u);
  EXPECT_EQ(held->capacity, 0u);
  // Still known, so a batch naming it is accepted (and waits like the first).
  BatchSpec other = ManyTasks(1, "work");
  other.options.timeout_ms = 1000;
  std::string other_id = Submit(std::move(other));
  Advance(1000);
  ASSERT_EQ(Summary(other_id).state, BatchState::kFailed);
  ASSERT_TRUE(Describe("work").has_value());  // the first batch still waits

  Advance(1000);
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kFailed);
  ASSERT_EQ(s.results.size(), 2u);
  EXPECT_EQ(s.results[0]->error, "No worker serves executor 'work'");
  EXPECT_FALSE(Describe("work").has_value());
  absl::StatusOr<SubmitResult> r = TrySubmit(ManyTasks(1, "work"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Unknown executor 'work' of task 't0' (known: echo, external, fail, sleep)");
}

TEST_F(WorkerHubTest, CancelledBatchLetsGoOfItsExecutor) {
  Connection w = Connect("w", {"work"});
  std::string id = Submit(ManyTasks(2, "work"));
  Disconnect(w, "gone");
  ASSERT_TRUE(Describe("work").has_value());
  EXPECT_EQ(Cancel(id).state, BatchState::kCancelled);
  EXPECT_FALSE(Describe("work").has_value());
}

TEST_F(WorkerHubTest, WorkerReconnectingForAForgottenNameServesItAfresh) {
  Connection first = Connect("first", {"work"});
  Disconnect(first, "bye");
  ASSERT_FALSE(Describe("work").has_value());

  Connection again = Connect("again", {"work"}, 3);
  ASSERT_EQ(again->worker_id(), "again#2");
  std::optional<ExecutorDescription> work = Describe("work");
  ASSERT_TRUE(work.has_value());
  EXPECT_EQ(work->workers, 1u);
  EXPECT_EQ(work->capacity, 3u);
  std::string id = Submit(ManyTasks(1, "work"));
  ASSERT_EQ(again->assignment_count(), 1u);
  EXPECT_EQ(first->assignment_count(), 0u);
  Succeed(again, again->last_assignment().assignment_id, "served");
  BatchSummary s = Summary(id);
  EXPECT_EQ(s.state, BatchState::kSucceeded);
  EXPECT_EQ(s.results.at(0)->worker_id, "again#2");
}

TEST_F(WorkerHubTest, WaitForWorkersOnAForgottenNameIsAcceptedAndRunsWhenAWorkerComes) {
  Connection first = Connect("first", {"work"});
  Disconnect(first, "bye");
  ASSERT_FALSE(Describe("work").has_value());

  BatchSpec spec = ManyTasks(1, "work");
  spec.options.wait_for_workers = true;
  spec.options.timeout_ms = 5000;
  std::string id = Submit(std::move(spec));
  EXPECT_EQ(Progress(id).pending_tasks, 1u);
  ASSERT_TRUE(Describe("work").has_value());  // the waiting batch names it
  EXPECT_EQ(Describe("work")->workers, 0u);
  Advance(1000);
  Connection late = Connect("late", {"work"});
  ASSERT_EQ(late->assignment_count(), 1u);
  Succeed(late, late->last_assignment().assignment_id, "served");
  EXPECT_EQ(Summary(id).state, BatchState::kSucceeded);
  Disconnect(late, "bye");
  EXPECT_FALSE(Describe("work").has_value());
}

TEST_F(WorkerHubTest, RejectedRegistrationLeavesNoExecutorListed) {
  Connection bad = Connect("bad", {"fresh", "echo"});
  ASSERT_TRUE(bad->close_status().has_value());
  EXPECT_EQ(bad->close_status()->code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Describe("fresh").has_value());
  EXPECT_THAT(registry_.Names(), ElementsAre("echo", "external", "fail", "sleep"));
}

TEST_F(WorkerHubTest, WaitingForWorkerGaugeCountsOnlyTasksStillWaiting) {
  auto waiting = [this] {
    std::optional<SchedulerGauges> g;
    scheduler_->Snapshot([&](SchedulerGauges s) { g = s; });
    timers_.Poll();
    return g.has_value() ? g->waiting_for_worker_tasks : UINT64_MAX;
  };
  Connection w = Connect("w", {"work"});
  BatchSpec spec = ManyTasks(3, "work");
  spec.options.timeout_ms = 1000;
  std::string timed_out = Submit(std::move(spec));
  std::string cancelled = Submit(ManyTasks(2, "work"));
  EXPECT_EQ(waiting(), 4u);  // t0 of the first batch holds the only slot
  EXPECT_EQ(Cancel(cancelled).state, BatchState::kCancelled);
  EXPECT_EQ(waiting(), 2u);
  Disconnect(w, "gone");  // t0 is lost and waits again; every wait now ends at the timeout
  EXPECT_EQ(waiting(), 3u);
  Advance(1000);
  EXPECT_EQ(Summary(timed_out).state, BatchState::kFailed);
  EXPECT_EQ(waiting(), 0u);
  EXPECT_FALSE(Describe("work").has_value());
}

// --- ListWorkers -----------------------------------------------------------------------------

TEST_F(WorkerHubTest, ListWorkersReportsRegistrationLoadAndOutcomesInConnectOrder) {
  Start();
  const WallTime alpha_at = clock_.WallNow();
  WorkerRegistrationSpec alpha;
  alpha.name = "alpha";
  alpha.executors = {"work", "other", "work"};
  alpha.slots = 3;
  alpha.weight = 2.5;
  alpha.labels = {{"zone", "a"}, {"gpu", "no"}};
  alpha.peer = "ipv4:10.0.0.7:4711";
  Connection a = Connect(std::move(alpha));
  Advance(1500);
  const WallTime beta_at = clock_.WallNow();
  Connection b = Connect("", {"solo"}, 1);

  BatchSpec spec = ManyTasks(2, "work");
  spec.tasks.push_back(MakeTask("s", "solo"));
  Submit(std::move(spec));
  ASSERT_EQ(a->assignment_count(), 2u);
  ASSERT_EQ(b->assignment_count(), 1u);
  const std::string first = a->assignments()[0].assignment_id;
  Succeed(a, first);
  Succeed(a, first);  // a duplicate is not counted again
  Send(a, Outcome("9-9-9", ExecutionOutcome::Success(nullptr)));  // nor an unknown one

  const std::vector<WorkerSnapshot> workers = ListWorkers();
  ASSERT_THAT(Ids(workers), ElementsAre("alpha#1", "worker#2"));
  const WorkerSnapshot& w = workers[0];
  EXPECT_EQ(w.name, "alpha");
  EXPECT_THAT(w.executors, ElementsAre("work", "other"));
  EXPECT_EQ(w.slots, 3u);
  EXPECT_EQ(w.slots_in_use, 1u);
  EXPECT_EQ(w.weight, 2.5);
  EXPECT_THAT(w.labels, ElementsAre(Pair("gpu", "no"), Pair("zone", "a")));
  EXPECT_EQ(w.connected_at, alpha_at);
  EXPECT_EQ(w.peer, "ipv4:10.0.0.7:4711");
  EXPECT_EQ(w.completed_tasks, 1u);
  const WorkerSnapshot& u = workers[1];
  EXPECT_EQ(u.name, "worker");
  EXPECT_THAT(u.executors, ElementsAre("solo"));
  EXPECT_EQ(u.slots, 1u);
  EXPECT_EQ(u.slots_in_use, 1u);
  EXPECT_EQ(u.weight, 1.0);  // 0 registers as 1
  EXPECT_THAT(u.labels, IsEmpty());
  EXPECT_EQ(u.connected_at, beta_at);
  EXPECT_EQ(u.completed_tasks, 0u);
}

TEST_F(WorkerHubTest, WorkerThatLeftOrWasRejectedIsNotListed) {
  Connection a = Connect("a", {"work"});
  Connection b = Connect("b", {"work"});
  Connection rejected = Connect("c", {"echo"});
  Connection d = Connect("d", {"work"});
  EXPECT_THAT(Ids(ListWorkers()), ElementsAre("a#1", "b#2", "d#3"));
  Disconnect(b, "closed its stream", /*closed_by_worker=*/true);
  EXPECT_THAT(Ids(ListWorkers()), ElementsAre("a#1", "d#3"));
  Advance(15000);  // a and d never sent a heartbeat: dropped
  EXPECT_THAT(ListWorkers(), IsEmpty());
}

}  // namespace
}  // namespace batchd::core
