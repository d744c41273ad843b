// Batches for unit tests of core/scheduling's components, compiled by Batch::Create against a
// registry whose one executor ("manual", a ManualExecutor) the test drives, and helpers that
// move a batch's tasks through Batch's own transitions (no scheduler). Single-threaded.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/executors/executor_registry.h"
#include "core/model/batch_spec.h"
#include "core/scheduling/batch.h"
#include "core/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/manual_executor.h"

namespace batchd::testing {

inline core::TaskSpec ManualTask(std::string id, std::vector<std::string> dependencies = {},
                                 double priority = 0) {
  core::TaskSpec task;
  task.id = std::move(id);
  task.executor = "manual";
  task.dependencies = std::move(dependencies);
  task.priority = priority;
  return task;
}

class TestBatches {
 public:
  explicit TestBatches(const core::Clock& clock) : clock_(clock) {
    auto manual = std::make_unique<ManualExecutor>(clock);
    manual_ = manual.get();
    EXPECT_TRUE(registry_.Register({"manual", "builtin", 0, 0}, std::move(manual)).ok());
  }

  static core::BatchSpec Spec(std::vector<core::TaskSpec> tasks, std::string request_id = {}) {
    core::BatchSpec spec;
    spec.request_id = std::move(request_id);
    spec.tasks = std::move(tasks);
    return spec;
  }

  // A batch with sequence `seq` and id "batch-<seq>", created now.
  std::shared_ptr<core::Batch> Make(uint64_t seq, std::vector<core::TaskSpec> tasks,
                                    std::string request_id = {}) {
    core::Batch::Identity identity;
    identity.id = absl::StrCat("batch-", seq);
    identity.seq = seq;
    identity.created_steady = clock_.SteadyNow();
    identity.created_wall = clock_.WallNow();
    auto created = core::Batch::Create(Spec(std::move(tasks), std::move(request_id)), registry_,
                                       std::move(identity));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *std::move(created) : nullptr;
  }
  // One task, "a".
  std::shared_ptr<core::Batch> Make(uint64_t seq, std::string request_id = {}) {
    return Make(seq, {ManualTask("a")}, std::move(request_id));
  }

  // Starts the next ready task of `batch` and records it with `state` (one attempt); returns
  // the task.
  uint32_t RunNext(core::Batch& batch, core::TaskState state = core::TaskState::kSucceeded) {
    const uint32_t t = batch.PopReady();
    batch.OnAttemptStarted(t, clock_.SteadyNow());
    batch.OnAttemptEnded(t);
    batch.Record(t, state, {}, state == core::TaskState::kSucceeded ? "" : "boom",
                 clock_.SteadyNow());
    if (state == core::TaskState::kSucceeded) batch.ReleaseDependents(t, clock_.SteadyNow());
    return t;
  }
  // Runs every task of `batch` to success and finishes it now.
  void RunToEnd(core::Batch& batch) {
    while (batch.CanStart()) RunNext(batch);
    batch.Finish(clock_.SteadyNow());
  }

  core::ExecutorRegistry& registry() { return registry_; }
  ManualExecutor& manual() { return *manual_; }

 private:
  const core::Clock& clock_;
  core::ExecutorRegistry registry_;
  ManualExecutor* manual_ = nullptr;
};

}  // namespace batchd::testing
