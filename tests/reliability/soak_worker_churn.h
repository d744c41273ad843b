// Callback workers coming and going during the soak: batchd_test_worker processes serving one
// executor, started, stopped with SIGTERM and killed with SIGKILL at random on a background
// thread, keeping a worker back within a moment of the last one leaving so that batches waiting
// for workers (wait_for_workers) always get one before their timeout. Start/Stop from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tests/reliability/soak_tally.h"
#include "tests/testing/daemon_process.h"

namespace batchd::soak {

class WorkerChurn {
 public:
  WorkerChurn(std::string daemon_address, std::string executor, uint64_t seed, SoakTally& tally);
  WorkerChurn(const WorkerChurn&) = delete;
  WorkerChurn& operator=(const WorkerChurn&) = delete;
  ~WorkerChurn();

  // Starts `initial` workers, then churns them until Stop.
  void Start(int initial);
  // Ends the churn and stops every worker left with SIGTERM (each must exit 0).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Worker {
    std::string name;
    std::unique_ptr<testing::ChildProcess> process;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void StartWorker();
  // Signals the worker at `index`, waits for it and checks its exit code.
  void StopWorker(size_t index, int signal_number);
  // Reports workers that exited without being told to.
  void CheckAlive();

  const std::string address_;
  const std::string executor_;
  SoakTally& tally_;
  std::mt19937_64 rng_;          // churn thread only
  std::vector<Worker> workers_;  // churn thread only (and Start/Stop when it is not running)
  uint64_t next_worker_ = 0;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace batchd::soak
