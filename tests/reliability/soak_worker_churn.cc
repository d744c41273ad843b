#include "tests/reliability/soak_worker_churn.h"

#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace batchd::soak {
namespace {

constexpr int kMinWorkers = 1;
constexpr int kMaxWorkers = 5;
constexpr absl::Duration kExitTimeout = absl::Seconds(15);

}  // namespace

WorkerChurn::WorkerChurn(std::string daemon_address, std::string executor, uint64_t seed,
                         SoakTally& tally)
    : address_(std::move(daemon_address)),
      executor_(std::move(executor)),
      tally_(tally),
      rng_(seed) {}

WorkerChurn::~WorkerChurn() { Stop(); }

void WorkerChurn::Start(int initial) {
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  for (int i = 0; i < initial; ++i) StartWorker();
  thread_ = std::thread([this] { Run(); });
}

void WorkerChurn::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  while (!workers_.empty()) StopWorker(workers_.size() - 1, SIGTERM);
}

void WorkerChurn::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    const absl::Duration pause =
        absl::Milliseconds(std::uniform_int_distribution<int>(200, 1200)(rng_));
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), pause)) break;
    mu_.Unlock();
    CheckAlive();
    const int count = static_cast<int>(workers_.size());
    const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (count <= kMinWorkers || (count < kMaxWorkers && roll < 40)) {
      StartWorker();
    } else {
      const size_t victim = std::uniform_int_distribution<size_t>(0, workers_.size() - 1)(rng_);
      StopWorker(victim, roll < 70 ? SIGTERM : SIGKILL);
      // The last worker gone: a replacement follows within a moment, as a restarted pod would.
      if (workers_.empty()) StartWorker();
    }
    mu_.Lock();
  }
}

void WorkerChurn::StartWorker() {
  std::string name = absl::StrCat("soak-worker-", next_worker_++);
  const int slots = std::uniform_int_distribution<int>(2, 6)(rng_);
  absl::StatusOr<std::unique_ptr<testing::ChildProcess>> child =
      testing::ChildProcess::Spawn({BATCHD_TEST_WORKER, "--addr", address_, "--executor", executor_,
                                    "--name", name, "--slots", absl::StrCat(slots)});
  if (!child.ok()) {
    tally_.Problem(absl::StrCat("cannot start ", name, ": ", child.status().ToString()));
    return;
  }
  tally_.Count("worker starts");
  workers_.push_back({std::move(name), *std::move(child)});
}

void WorkerChurn::StopWorker(size_t index, int signal_number) {
  Worker worker = std::move(workers_[index]);
  workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(index));
  // A SIGTERM before the worker installed its handlers would kill it (exit 143) as it would any
  // program: only a worker that is up is asked to stop cleanly.
  if (signal_number == SIGTERM) {
    if (absl::StatusOr<std::string> up =
            worker.process->WaitForStdoutLine("registered ", kExitTimeout);
        !up.ok()) {
      tally_.Problem(absl::StrCat(worker.name, " never registered: ", up.status().ToString(),
                                  "; stderr:\n", worker.process->Stderr()));
    }
  }
  if (absl::Status s = worker.process->Signal(signal_number); !s.ok()) {
    tally_.Problem(absl::StrCat("signal ", worker.name, ": ", s.ToString()));
    return;
  }
  tally_.Count(signal_number == SIGKILL ? "worker SIGKILLs" : "worker SIGTERMs");
  const absl::StatusOr<int> code = worker.process->WaitForExit(kExitTimeout);
  const int want = signal_number == SIGKILL ? 128 + SIGKILL : 0;
  if (!code.ok() || *code != want) {
    tally_.Problem(absl::StrCat(worker.name, " after signal ", signal_number, ": ",
                                code.ok() ? absl::StrCat("exit ", *code) : code.status().ToString(),
                                ", expected exit ", want, "; stderr:\n", worker.process->Stderr()));
  }
}

void WorkerChurn::CheckAlive() {
  for (size_t i = 0; i < workers_.size();) {
    const absl::StatusOr<int> code = workers_[i].process->WaitForExit(absl::ZeroDuration());
    if (!code.ok()) {  // still running
      ++i;
      continue;
    }
    tally_.Problem(absl::StrCat(workers_[i].name, " exited by itself with ", *code, "; stderr:\n",
                                workers_[i].process->Stderr()));
    workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

}  // namespace batchd::soak
