// A random small batch for the soak test (echo, sleeps, a flaky task that succeeds on a retry, a
// task that always fails, callback-worker tasks, dependencies between them) and the check of
// what the daemon reported for it: exactly one final result per task, each in the state the
// graph, the failure policy and any accepted cancel imply. Immutable once built; thread-compatible.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "batchd/v1/batch_service.pb.h"

namespace batchd::soak {

enum class SoakTaskKind { kEcho, kSleep, kFlaky, kFail, kWorker };

struct SoakTask {
  std::string id;
  SoakTaskKind kind = SoakTaskKind::kEcho;
  std::vector<size_t> dependencies;  // indices of earlier tasks
  double priority = 0;
  int sleep_ms = 0;    // kSleep, kWorker
  int succeed_on = 0;  // kFlaky: the attempt that succeeds (1 or 2)
};

// What the client knows about how the batch ended, besides its results.
struct SoakEnding {
  v1::BatchSummary summary;     // state, counts, cancel_reason (results not used)
  std::string accepted_cancel;  // the reason of a CancelBatch the daemon accepted, else empty
};

struct SoakCheck {
  std::vector<std::string> problems;
  int worker_lost = 0;  // worker tasks that failed "Worker lost N times" (tolerated, counted)
};

class SoakBatch {
 public:
  // 3 to 10 tasks; `worker_executor` names the executor the callback workers serve.
  static SoakBatch Random(std::mt19937_64& rng, uint64_t serial,
                          const std::string& worker_executor);

  v1::SubmitBatchRequest SubmitRequest() const;
  v1::ProcessBatchRequest ProcessRequest() const;
  size_t size() const { return tasks_.size(); }
  uint64_t serial() const { return serial_; }

  // `results` in the order the daemon delivered them (across stream reconnects, or a summary's).
  SoakCheck Check(const std::vector<v1::TaskResult>& results, const SoakEnding& ending) const;

 private:
  SoakBatch(uint64_t serial, std::string worker_executor)
      : serial_(serial), worker_executor_(std::move(worker_executor)) {}

  void FillRequest(google::protobuf::RepeatedPtrField<v1::Task>* tasks,
                   v1::BatchOptions* options) const;
  // The state each task reaches when nobody cancels, given the actual results of worker tasks
  // (a worker task may fail "Worker lost" while workers are killed).
  std::vector<v1::TaskState> ModelStates(const std::vector<const v1::TaskResult*>& by_task,
                                         int& worker_lost) const;
  void CheckResult(const SoakTask& task, const v1::TaskResult& result,
                   std::vector<std::string>& problems) const;
  void CheckOrder(const std::vector<v1::TaskResult>& results,
                  std::vector<std::string>& problems) const;

  uint64_t serial_;
  std::string worker_executor_;
  std::vector<SoakTask> tasks_;
  v1::Aggregation aggregation_ = v1::AGGREGATION_UNORDERED;
  v1::DependencyFailure on_failure_ = v1::DEPENDENCY_FAILURE_SKIP_DEPENDENTS;
  uint32_t max_concurrent_ = 4;
};

}  // namespace batchd::soak
