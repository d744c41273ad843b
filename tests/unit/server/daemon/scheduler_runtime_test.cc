// SchedulerRuntime as the daemon builds it, on its own threads and the system clock (it is the
// piece that owns real threads and time), with a journal over an in-memory storage where one
// is needed. Every wait is bounded and generous; none of the tests sleeps.
#include "server/daemon/scheduler_runtime.h"

#include <boost/json.hpp>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/journal/group_commit_journal.h"
#include "core/journal/journal_storage.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"
#include "tests/testing/flag_test.h"

namespace batchd::server {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Generous: the runtime's threads may wait for a busy 2-core machine.
constexpr auto kPatience = std::chrono::seconds(30);

// Keeps the ids of the batch records the journal writes; every write succeeds.
class MemoryStorage final : public core::JournalStorage {
 public:
  absl::Status Write(const std::vector<core::BatchRecord>& batches,
                     const std::vector<core::EventChunk>&, const std::vector<uint64_t>&,
                     const std::vector<core::LimitRecord>&,
                     const std::vector<core::CacheRecord>&) override {
    absl::MutexLock lock(&mu_);
    for (const core::BatchRecord& b : batches) batch_ids_.push_back(b.id);
    return absl::OkStatus();
  }
  absl::Status Probe() override { return absl::OkStatus(); }

  std::vector<std::string> batch_ids() const {
    absl::MutexLock lock(&mu_);
    return batch_ids_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> batch_ids_ ABSL_GUARDED_BY(mu_);
};

core::BatchSpec OneTask(const std::string& executor, boost::json::value input) {
  core::BatchSpec spec;
  core::TaskSpec task;
  task.id = "t";
  task.executor = executor;
  task.input = std::move(input);
  spec.tasks.push_back(std::move(task));
  return spec;
}

// Waits up to kPatience for the value a callback delivers.
template <typename T>
class Delivered {
 public:
  absl::AnyInvocable<void(T)> Callback() {
    return [promise = promise_](T value) { promise->set_value(std::move(value)); };
  }
  std::optional<T> Wait() {
    if (future_.wait_for(kPatience) != std::future_status::ready) return std::nullopt;
    return future_.get();
  }

 private:
  std::shared_ptr<std::promise<T>> promise_ = std::make_shared<std::promise<T>>();
  std::future<T> future_ = promise_->get_future();
};

// The configuration starts as the daemon's defaults (from the flags, as main builds it).
class SchedulerRuntimeTest : public batchd::testing::FlagTest {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);
    absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags();
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *std::move(config);
  }

  // Submits `spec` and waits until it is admitted; returns its id.
  static std::string Submit(SchedulerRuntime& runtime, core::BatchSpec spec) {
    absl::StatusOr<core::SubmitResult> submitted = runtime.scheduler().Submit(std::move(spec));
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    if (!submitted.ok()) return "";
    Delivered<absl::Status> admitted;
    runtime.scheduler().WhenDurable(*submitted, admitted.Callback());
    std::optional<absl::Status> status = admitted.Wait();
    EXPECT_TRUE(status.has_value() && status->ok()) << (status ? status->ToString() : "no answer");
    return submitted->batch_id;
  }

  static std::optional<absl::StatusOr<core::BatchSummary>> Complete(SchedulerRuntime& runtime,
                                                                    const std::string& id) {
    Delivered<absl::StatusOr<core::BatchSummary>> summary;
    runtime.scheduler().WaitForCompletion(id, summary.Callback());
    return summary.Wait();
  }

  DaemonConfig config_;
};

TEST_F(SchedulerRuntimeTest, RegistersTheBuiltinsAndHttpByDefault) {
  SchedulerRuntime runtime(config_, nullptr);
  EXPECT_TRUE(runtime.executors_status().ok()) << runtime.executors_status();
  EXPECT_THAT(runtime.registry().Names(), ElementsAre("echo", "external", "fail", "http", "sleep"));
}

TEST_F(SchedulerRuntimeTest, RegistersTheShellOnlyWhenEnabled) {
  config_.shell.enabled = true;
  SchedulerRuntime runtime(config_, nullptr);
  EXPECT_TRUE(runtime.executors_status().ok()) << runtime.executors_status();
  EXPECT_THAT(runtime.registry().Names(), Contains("shell"));
}

TEST_F(SchedulerRuntimeTest, AnExecutorThatCannotBeSetUpIsReportedAndTheBuiltinsStay) {
  config_.plugins.paths = {"/nonexistent/batchd-plugin.so"};
  SchedulerRuntime runtime(config_, nullptr);
  EXPECT_EQ(runtime.executors_status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(runtime.executors_status().message()),
              StartsWith("plugin /nonexistent/batchd-plugin.so: cannot load (dlopen: "));
  EXPECT_THAT(runtime.registry().Names(), Contains("echo"));
}

TEST_F(SchedulerRuntimeTest, RunsABatchToTheEndOnItsOwnThreads) {
  config_.daemon.scheduler_threads = 2;
  SchedulerRuntime runtime(config_, nullptr);
  const std::string id = Submit(runtime, OneTask("echo", boost::json::parse(R"({"x":1})")));
  std::optional<absl::StatusOr<core::BatchSummary>> summary = Complete(runtime, id);
  ASSERT_TRUE(summary.has_value()) << "the batch did not finish";
  ASSERT_TRUE(summary->ok()) << summary->status();
  EXPECT_EQ((*summary)->state, core::BatchState::kSucceeded);
  ASSERT_EQ((*summary)->results.size(), 1u);
  EXPECT_EQ((*summary)->results[0]->output, boost::json::parse(R"({"x":1})"));
  EXPECT_EQ(runtime.UnfinishedBatches(), 0u);
}

// The timers are real: a 1 ms sleep finishes on the runtime's AsioTimerService.
TEST_F(SchedulerRuntimeTest, RunsTimersOnTheSystemClock) {
  SchedulerRuntime runtime(config_, nullptr);
  const std::string id = Submit(runtime, OneTask("sleep", 1));
  std::optional<absl::StatusOr<core::BatchSummary>> summary = Complete(runtime, id);
  ASSERT_TRUE(summary.has_value() && summary->ok());
  EXPECT_EQ((*summary)->results[0]->output, boost::json::parse(R"({"slept_ms":1})"));
}

TEST_F(SchedulerRuntimeTest, CountsUnfinishedBatches) {
  SchedulerRuntime runtime(config_, nullptr);
  EXPECT_EQ(runtime.UnfinishedBatches(), 0u);
  Submit(runtime, OneTask("sleep", 3600 * 1000));
  Submit(runtime, OneTask("sleep", 3600 * 1000));
  EXPECT_EQ(runtime.UnfinishedBatches(), 2u);
  // Destroying the runtime with both still sleeping does not wait for them.
}

TEST_F(SchedulerRuntimeTest, RenderedMetricsSampleTheGaugesNow) {
  SchedulerRuntime runtime(config_, nullptr);
  Submit(runtime, OneTask("sleep", 3600 * 1000));
  const std::string text = runtime.RenderMetrics();
  EXPECT_THAT(text, HasSubstr("batchd_running_tasks 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("batchd_journal")));
}

TEST_F(SchedulerRuntimeTest, CountsTheSchedulersEventsOnlyWithAMetricsEndpoint) {
  {
    SchedulerRuntime runtime(config_, nullptr);
    Complete(runtime, Submit(runtime, OneTask("echo", 1)));
    EXPECT_THAT(runtime.RenderMetrics(), HasSubstr("batchd_batches_submitted_total 0\n"));
  }
  config_.daemon.metrics_listen = "127.0.0.1:0";  // the runtime opens nothing itself
  SchedulerRuntime runtime(config_, nullptr);
  Complete(runtime, Submit(runtime, OneTask("echo", 1)));
  const std::string text = runtime.RenderMetrics();
  EXPECT_THAT(text, HasSubstr("batchd_batches_submitted_total 1\n"));
  EXPECT_THAT(text,
              HasSubstr("batchd_tasks_finished_total{executor=\"echo\",state=\"succeeded\"} 1\n"));
}

TEST_F(SchedulerRuntimeTest, RecordsIntoTheJournalAndReportsItsState) {
  auto storage = std::make_unique<MemoryStorage>();
  MemoryStorage* stored = storage.get();
  SchedulerRuntime runtime(config_, std::make_unique<core::GroupCommitJournal>(std::move(storage)));
  const std::string id = Submit(runtime, OneTask("echo", 1));
  std::optional<absl::StatusOr<core::BatchSummary>> summary = Complete(runtime, id);
  ASSERT_TRUE(summary.has_value() && summary->ok());
  EXPECT_EQ((*summary)->state, core::BatchState::kSucceeded);
  EXPECT_THAT(stored->batch_ids(), ElementsAre(id));
  EXPECT_THAT(runtime.RenderMetrics(), HasSubstr("batchd_journal_writable 1\n"));
}

// After StopJournal nothing more is recorded: a running batch stays unfinished (it resumes at
// the next start) and a new one is refused.
TEST_F(SchedulerRuntimeTest, StopJournalSuspendsTheSchedulerAndClosesTheJournal) {
  auto storage = std::make_unique<MemoryStorage>();
  MemoryStorage* stored = storage.get();
  SchedulerRuntime runtime(config_, std::make_unique<core::GroupCommitJournal>(std::move(storage)));
  const std::string sleeping = Submit(runtime, OneTask("sleep", 3600 * 1000));
  runtime.StopJournal();
  runtime.StopJournal();  // safe to repeat (the destructor calls it once more)
  EXPECT_EQ(runtime.UnfinishedBatches(), 1u);
  absl::StatusOr<core::SubmitResult> late = runtime.scheduler().Submit(OneTask("echo", 1));
  ASSERT_TRUE(late.ok()) << late.status();
  Delivered<absl::Status> admitted;
  runtime.scheduler().WhenDurable(*late, admitted.Callback());
  std::optional<absl::Status> status = admitted.Wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), absl::StatusCode::kUnavailable) << *status;
  EXPECT_THAT(stored->batch_ids(), ElementsAre(sleeping));
}

}  // namespace
}  // namespace batchd::server
