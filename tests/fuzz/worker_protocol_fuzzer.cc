// Fuzz target: the daemon's side of WorkerService.Connect. Each input is a sequence of steps:
// workers connect (a ConnectRequest parsed from the bytes, or a registration built from
// them), send ConnectRequests (parsed from the bytes, or outcomes / cancel acks / heartbeats
// for assignments they really hold), disconnect; batches for worker executors are submitted
// and cancelled; fake time passes. Messages take the server's path
// (server/convert/worker_convert.h) into core::WorkerHub and the Scheduler, with fake connections
// and a fake clock. At the end every batch must finish with exactly one result per task and the hub
// must hold nothing. Single-threaded.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "batchd/v1/worker_service.pb.h"
#include "core/executors/builtin_executors.h"
#include "core/executors/executor_registry.h"
#include "core/model/batch_spec.h"
#include "core/model/task_result.h"
#include "core/scheduling/scheduler.h"
#include "core/workers/worker_hub.h"
#include "server/convert/worker_convert.h"
#include "spdlog/spdlog.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/fake_worker_connection.h"

namespace batchd {
namespace {

using std::chrono::milliseconds;
using Connection = std::shared_ptr<testing::FakeWorkerConnection>;

constexpr size_t kMaxSteps = 64;
constexpr size_t kMaxMessageBytes = 1024;
// Executors the batches use: three served by workers, two builtins a worker may not serve.
constexpr const char* kExecutors[] = {"w0", "w1", "w2", "echo", "fail"};
constexpr size_t kWorkerExecutors = 3;

// One worker stream as server/rpc/worker_stream.cc drives it.
struct Stream {
  Connection connection = std::make_shared<testing::FakeWorkerConnection>();
  bool registered = false;  // its first message carried a registration
  bool done = false;        // the stream ended; the hub was told
};

class Harness {
 public:
  Harness() : strand_(boost::asio::make_strand(io_)), timers_(clock_, io_, strand_) {
    FUZZ_CHECK(core::RegisterBuiltinExecutors(registry_, clock_, timers_).ok());
    core::WorkerHubOptions hub_options;
    hub_options.heartbeat_interval = milliseconds(1000);
    hub_options.cancel_grace = milliseconds(500);
    hub_options.max_slots = 8;
    hub_ = std::make_unique<core::WorkerHub>(strand_, clock_, timers_, registry_, hub_options);
    core::SchedulerOptions options;
    options.max_running = 16;
    options.retention = std::chrono::hours(24 * 365 * 10);  // summaries readable at the end
    scheduler_ = std::make_unique<core::Scheduler>(strand_, clock_, timers_, registry_, options);
    hub_->SetCapacityListener(scheduler_.get());
  }

  void Step(FuzzedDataProvider& data) {
    switch (data.ConsumeIntegralInRange(0, 8)) {
      case 0:
        ConnectFromBytes(data);
        break;
      case 1:
        ConnectStructured(data);
        break;
      case 2:
        if (Stream* s = PickStream(data)) ReceiveBytes(*s, data);
        break;
      case 3:
      case 4:
        if (Stream* s = PickStream(data)) AnswerAssignments(*s, data);
        break;
      case 5:
        Submit(data);
        break;
      case 6:
        timers_.Advance(milliseconds(data.ConsumeIntegralInRange(0, 5000)));
        break;
      case 7:
        if (Stream* s = PickStream(data)) EndStream(*s, "stream ended");
        break;
      default:
        CancelBatch(data);
        break;
    }
    timers_.Poll();
    EndClosedStreams();
  }

  // Ends every stream, lets every timer run, and checks that nothing is left behind.
  void Finish() {
    for (Stream& s : streams_) EndStream(s, "stream done");
    timers_.Advance(std::chrono::hours(24 * 365));
    FUZZ_CHECK(hub_->worker_count() == 0);
    FUZZ_CHECK(hub_->assignment_count() == 0);
    for (const Stream& s : streams_) FUZZ_CHECK(s.connection->closes().size() <= 1);
    for (const auto& [id, tasks] : batches_) CheckFinished(id, tasks);
  }

 private:
  Stream* PickStream(FuzzedDataProvider& data) {
    if (streams_.empty()) return nullptr;
    Stream& s = streams_[data.ConsumeIntegralInRange<size_t>(0, streams_.size() - 1)];
    return s.done ? nullptr : &s;
  }

  // The first message of a stream: a registration, else the stream is refused.
  void Open(const v1::ConnectRequest& first) {
    Stream& s = streams_.emplace_back();
    if (!first.has_registration()) {
      s.connection->Close(absl::InvalidArgumentError("first message without a registration"));
      s.done = true;
      return;
    }
    s.registered = true;
    hub_->Register(s.connection, server::RegistrationFromProto(first.registration()));
  }

  void ConnectFromBytes(FuzzedDataProvider& data) {
    v1::ConnectRequest first;
    if (first.ParseFromString(data.ConsumeRandomLengthString(kMaxMessageBytes))) Open(first);
  }

  void ConnectStructured(FuzzedDataProvider& data) {
    v1::ConnectRequest first;
    v1::WorkerRegistration* r = first.mutable_registration();
    r->set_name(data.ConsumeRandomLengthString(16));
    const uint8_t executors = data.ConsumeIntegral<uint8_t>();
    for (size_t e = 0; e < std::size(kExecutors); ++e) {
      if (executors & (1u << e)) r->add_executors(kExecutors[e]);
    }
    if (executors & 0x80u) r->add_executors(data.ConsumeRandomLengthString(8));
    r->set_slots(data.ConsumeIntegralInRange<uint32_t>(0, 10));
    constexpr double kWeights[] = {0, 1, 2.5, -1, 1e7, std::numeric_limits<double>::quiet_NaN()};
    r->set_weight(kWeights[data.ConsumeIntegralInRange<size_t>(0, std::size(kWeights) - 1)]);
    Open(first);
  }

  // A later message, as WorkerStream::OnReadDone handles it. Ids starting with '@' are
  // replaced by an assignment id the daemon really sent (to any worker), so that byte-level
  // inputs reach the fencing paths.
  void Receive(Stream& s, v1::ConnectRequest request) {
    if (request.has_registration()) {
      s.connection->Close(absl::InvalidArgumentError("second registration"));
      EndStream(s, "sent a second registration");
      return;
    }
    for (v1::TaskOutcome& o : *request.mutable_outcomes()) Resolve(o.mutable_assignment_id());
    for (std::string& id : *request.mutable_cancel_acks()) Resolve(&id);
    hub_->Receive(s.connection.get(), server::WorkerMessageFromProto(request));
  }

  void Resolve(std::string* id) {
    if (!absl::StartsWith(*id, "@")) return;
    std::vector<std::string> sent;
    for (const Stream& s : streams_) {
      for (const core::WorkerAssignment& a : s.connection->assignments()) {
        sent.push_back(a.assignment_id);
      }
    }
    if (sent.empty()) return;
    size_t pick = 0;
    for (char c : id->substr(1)) pick = pick * 31 + static_cast<uint8_t>(c);
    *id = sent[pick % sent.size()];
  }

  void ReceiveBytes(Stream& s, FuzzedDataProvider& data) {
    v1::ConnectRequest request;
    if (request.ParseFromString(data.ConsumeRandomLengthString(kMaxMessageBytes))) {
      Receive(s, std::move(request));
    }
  }

  // Outcomes for some of the assignments this worker got (answered or not), acks for some of
  // its cancels, maybe a heartbeat: what a well-behaved or confused worker sends.
  void AnswerAssignments(Stream& s, FuzzedDataProvider& data) {
    v1::ConnectRequest request;
    const std::vector<core::WorkerAssignment> assignments = s.connection->assignments();
    const size_t outcomes = data.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < outcomes && !assignments.empty(); ++i) {
      const core::WorkerAssignment& a =
          assignments[assignments.size() - 1 -
                      data.ConsumeIntegralInRange<size_t>(0, assignments.size() - 1)];
      v1::TaskOutcome* o = request.add_outcomes();
      o->set_assignment_id(a.assignment_id);
      o->set_success(data.ConsumeBool());
      if (o->success()) {
        o->mutable_output()->set_number_value(data.ConsumeFloatingPoint<double>());
      } else {
        o->set_error(data.ConsumeRandomLengthString(16));
      }
      o->set_non_retryable(data.ConsumeIntegralInRange(0, 3) == 0);
      if (data.ConsumeIntegralInRange(0, 3) == 0)
        o->set_retry_after_ms(data.ConsumeIntegral<uint32_t>());
    }
    const std::vector<testing::FakeWorkerConnection::Cancel> cancels = s.connection->cancels();
    if (!cancels.empty() && data.ConsumeBool()) {
      request.add_cancel_acks(
          cancels[data.ConsumeIntegralInRange<size_t>(0, cancels.size() - 1)].assignment_id);
    }
    if (data.ConsumeBool()) request.mutable_heartbeat();
    Receive(s, std::move(request));
  }

  void EndStream(Stream& s, const char* reason) {
    if (s.done) return;
    s.done = true;
    if (s.registered) hub_->Disconnect(s.connection.get(), reason);
    timers_.Poll();
  }

  // A stream the hub closed ends: the server then reports it done.
  void EndClosedStreams() {
    for (Stream& s : streams_) {
      if (!s.done && !s.connection->closes().empty()) EndStream(s, "stream done");
    }
  }

  static core::RetryPolicySpec ConsumePolicy(FuzzedDataProvider& data) {
    core::RetryPolicySpec p;
    p.kind = static_cast<core::RetryKind>(data.ConsumeIntegralInRange(0, 3));
    p.max_retries = data.ConsumeIntegralInRange<uint32_t>(0, 3);
    p.initial_delay_ms = data.ConsumeIntegralInRange<uint32_t>(0, 3000);
    p.multiplier = data.ConsumeBool() ? 2.0 : 0.5;
    p.max_delay_ms = data.ConsumeIntegralInRange<uint32_t>(0, 10000);
    p.jitter = static_cast<core::Jitter>(data.ConsumeIntegralInRange(0, 2));
    p.retry_on_timeout = data.ConsumeBool();
    return p;
  }

  void Submit(FuzzedDataProvider& data) {
    core::BatchSpec spec;
    const size_t n = data.ConsumeIntegralInRange<size_t>(1, 8);
    for (size_t i = 0; i < n; ++i) {
      core::TaskSpec& t = spec.tasks.emplace_back();
      t.id = "t" + std::to_string(i);
      const size_t e = data.ConsumeIntegralInRange<size_t>(0, std::size(kExecutors) - 1);
      t.executor = kExecutors[e];
      t.input = e < kWorkerExecutors ? boost::json::value(static_cast<int64_t>(i))
                                     : boost::json::value{{"error", "no"}};
      t.priority = data.ConsumeIntegralInRange(-2, 2);
      t.timeout_ms = data.ConsumeIntegralInRange<uint32_t>(0, 20000);
      if (i > 0 && data.ConsumeBool()) {
        t.dependencies.push_back("t" +
                                 std::to_string(data.ConsumeIntegralInRange<size_t>(0, i - 1)));
      }
      if (data.ConsumeBool()) t.retry_policy = ConsumePolicy(data);
    }
    if (data.ConsumeBool())
      spec.options.max_concurrent = data.ConsumeIntegralInRange<uint32_t>(1, 4);
    spec.options.retry_policy = ConsumePolicy(data);
    spec.options.load_balancer =
        static_cast<core::LoadBalancerKind>(data.ConsumeIntegralInRange(0, 3));
    spec.options.on_dependency_failure =
        static_cast<core::DependencyFailure>(data.ConsumeIntegralInRange(0, 2));
    spec.options.aggregation = static_cast<core::Aggregation>(data.ConsumeIntegralInRange(0, 3));
    spec.options.wait_for_workers = data.ConsumeIntegralInRange(0, 3) != 0;
    absl::StatusOr<core::SubmitResult> result = scheduler_->Submit(std::move(spec));
    if (result.ok()) {
      batches_.emplace_back(result->batch_id, n);
    } else {
      FUZZ_CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
    }
  }

  void CancelBatch(FuzzedDataProvider& data) {
    if (batches_.empty()) return;
    const std::string& id =
        batches_[data.ConsumeIntegralInRange<size_t>(0, batches_.size() - 1)].first;
    scheduler_->Cancel(id, "fuzz", [](absl::StatusOr<core::BatchProgress> progress) {
      FUZZ_CHECK(progress.ok() ||
                 progress.status().code() == absl::StatusCode::kFailedPrecondition);  // finished
    });
  }

  // Finished, with one result per task: no task lost, none answered twice.
  void CheckFinished(const std::string& id, size_t tasks) {
    std::optional<absl::StatusOr<core::BatchSummary>> summary;
    scheduler_->GetSummary(id,
                           [&](absl::StatusOr<core::BatchSummary> s) { summary = std::move(s); });
    timers_.Poll();
    FUZZ_CHECK(summary.has_value() && summary->ok());
    const core::BatchSummary& s = **summary;
    FUZZ_CHECK(core::IsFinal(s.state));
    FUZZ_CHECK(s.total_tasks == tasks);
    FUZZ_CHECK(s.results.size() == tasks);
    std::set<uint32_t> seen;
    for (const core::TaskResult* r : s.results) {
      FUZZ_CHECK(r != nullptr && r->task < tasks && core::IsFinal(r->state));
      FUZZ_CHECK(seen.insert(r->task).second);
    }
  }

  // Destroyed in reverse: the scheduler first, then the hub, the registry and the strand.
  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  core::ExecutorRegistry registry_;
  std::unique_ptr<core::WorkerHub> hub_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::vector<Stream> streams_;
  std::vector<std::pair<std::string, size_t>> batches_;
};

}  // namespace
}  // namespace batchd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  FuzzedDataProvider data(bytes, size);
  batchd::Harness harness;
  for (size_t step = 0; step < batchd::kMaxSteps && data.remaining_bytes() > 0; ++step) {
    harness.Step(data);
  }
  harness.Finish();
  return 0;
}
