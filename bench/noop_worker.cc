// noop_worker: a callback worker that answers every assignment at once with success (output
// null), to measure the daemon's worker path end to end. Prints its rate on exit.
//   noop_worker --addr ADDR --executor NAME [--slots N] [--exit-after N]
// Stops on SIGINT/SIGTERM, or after --exit-after outcomes.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cpp/stop_signal_watcher.h"
#include "client/worker/worker_session.h"

namespace batchd::bench {
namespace {

namespace v1 = batchd::v1;

class NoopHandler final : public client::TaskHandler {
 public:
  // `on_limit` runs once, on the reader thread, when `exit_after` (0: never) outcomes are sent.
  NoopHandler(uint64_t exit_after, std::function<void()> on_limit)
      : exit_after_(exit_after), on_limit_(std::move(on_limit)) {
    success_.set_success(true);
    success_.mutable_output()->set_null_value(google::protobuf::NULL_VALUE);
  }

  void Start(const v1::TaskAssignment& /*assignment*/, Reply reply) override {
    reply(success_);
    const uint64_t done = answered_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (done == 1) first_ = absl::Now();
    if (done == exit_after_) on_limit_();
  }
  void Cancel(const std::string& /*assignment_id*/) override {}

  uint64_t answered() const { return answered_.load(); }
  absl::Time first() const { return first_; }

 private:
  const uint64_t exit_after_;
  const std::function<void()> on_limit_;
  v1::TaskOutcome success_;
  std::atomic<uint64_t> answered_{0};
  absl::Time first_;  // written and read on the reader thread only
};

int Main(const std::vector<std::string>& args) {
  client::WorkerSessionOptions options;
  options.name = absl::StrFormat("noop-%d", getpid());
  uint64_t exit_after = 0;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& flag = args[i];
    const std::string& value = args[i + 1];
    bool ok = true;
    if (flag == "--addr") {
      options.address = value;
    } else if (flag == "--executor") {
      options.executors.push_back(value);
    } else if (flag == "--slots") {
      ok = absl::SimpleAtoi(value, &options.slots);
    } else if (flag == "--exit-after") {
      ok = absl::SimpleAtoi(value, &exit_after);
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "noop_worker: bad flag " << flag << "\n";
      return 2;
    }
  }
  if (args.size() % 2 != 0 || options.address.empty() || options.executors.empty()) {
    std::cerr << "usage: noop_worker --addr ADDR --executor NAME [--slots N] [--exit-after N]\n";
    return 2;
  }
  // Set before Run; the handler calls on_limit on Run's own thread.
  client::WorkerSession* session_ptr = nullptr;
  NoopHandler handler(exit_after, [&session_ptr] { session_ptr->Stop(); });
  client::WorkerSession session(options, handler);
  session_ptr = &session;
  absl::Status status;
  {
    const client::StopSignalWatcher watcher([&session] { session.Stop(); });
    status = session.Run();
  }
  const uint64_t answered = handler.answered();
  const double seconds = answered > 0 ? absl::ToDoubleSeconds(absl::Now() - handler.first()) : 0;
  std::cerr << absl::StrFormat("noop_worker: %d outcomes in %.3fs (%.0f/s)\n", answered, seconds,
                               seconds > 0 ? static_cast<double>(answered) / seconds : 0.0);
  if (!status.ok()) {
    std::cerr << "noop_worker: " << status << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace batchd::bench

int main(int argc, char** argv) {
  return batchd::bench::Main(std::vector<std::string>(argv + 1, argv + argc));
}
