// Fuzz target: what batchd reads back from its journal at start-up. The bytes are decoded as a
// batch's event log (core/journal/journal_events.h); a decoded log must re-encode to events that
// decode the same, and replaying it into a real scheduler (Scheduler::Restore on a 6-task batch
// with dependencies, on a fake clock) must never crash and must leave a batch that runs to its end.
// A log that does not decode must be DATA_LOSS. No state between inputs.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/executors/builtin_executors.h"
#include "core/journal/journal_events.h"
#include "core/scheduling/scheduler.h"
#include "spdlog/spdlog.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

std::string Reencode(const JournalEvent& e) {
  std::string out;
  switch (e.kind) {
    case JournalEventKind::kStarted:
      EncodeStarted(out, e.task, e.retries);
      break;
    case JournalEventKind::kRequeued:
      EncodeRequeued(out, e.task);
      break;
    case JournalEventKind::kRetryWait:
      EncodeRetryWait(out, e.task, e.retries, e.at);
      break;
    case JournalEventKind::kResult: {
      TaskResult r;
      r.task = e.task;
      r.state = e.state;
      r.retry_count = e.retries;
      r.duration_ms = e.duration_ms;
      r.started_at = e.started_at;
      r.finished_at = e.at;
      r.output = e.output;
      r.error = e.error;
      r.worker_id = e.worker_id;
      r.cached_from = e.cached_from;
      EncodeResult(out, r);
      break;
    }
    case JournalEventKind::kCancelled:
      EncodeCancelled(out, e.reason);
      break;
    case JournalEventKind::kFinished:
      EncodeFinished(out, e.at);
      break;
    case JournalEventKind::kCachedFrom:
      break;  // decoded into its result's event, never on its own
    case JournalEventKind::kAwaiting:
      EncodeAwaiting(out, e.task, e.at, e.token);
      break;
    case JournalEventKind::kAdded:
      EncodeAdded(out, e.reason, e.content);
      break;
    case JournalEventKind::kClosed:
      EncodeClosed(out);
      break;
  }
  return out;
}

BatchSpec SixTasks() {
  BatchSpec spec;
  const char* ids[] = {"a", "b", "c", "d", "e", "f"};
  for (int i = 0; i < 6; ++i) {
    TaskSpec t;
    t.id = ids[i];
    t.executor = i % 2 == 0 ? "echo" : "sleep";
    t.input =
        i % 2 == 0 ? boost::json::value(i) : boost::json::value(boost::json::object{{"ms", 5}});
    if (i >= 2) t.dependencies.push_back(ids[i - 2]);
    spec.tasks.push_back(std::move(t));
  }
  RetryPolicySpec retry;
  retry.kind = RetryKind::kFixed;
  retry.initial_delay_ms = 3;
  retry.max_retries = 2;
  spec.options.retry_policy = retry;
  return spec;
}

void ReplayIntoScheduler(const std::vector<JournalEvent>& events) {
  boost::asio::io_context io;
  auto strand = boost::asio::make_strand(io);
  testing::FakeClock clock;
  testing::FakeTimerService timers(clock, io, strand);
  ExecutorRegistry registry;
  FUZZ_CHECK(RegisterBuiltinExecutors(registry, clock, timers).ok());
  SchedulerOptions options;
  options.retention = std::chrono::hours(24 * 365 * 200);  // kept through the 50 years below
  auto scheduler = std::make_unique<Scheduler>(strand, clock, timers, registry, options);
  RecoveredBatch recovered;
  recovered.spec = SixTasks();
  recovered.record.seq = 7;
  recovered.record.id = "fuzzed";
  recovered.record.created_at = clock.WallNow();
  recovered.events = events;
  FUZZ_CHECK(scheduler->Restore(std::move(recovered)).ok());
  // Long enough for every retry delay the log could hold to pass (delays are capped by what
  // the wall clock difference allows; the fake clock starts at a fixed wall time).
  for (int i = 0; i < 50; ++i) timers.Advance(std::chrono::hours(24 * 365));
  bool finished = false;
  scheduler->GetSummary("fuzzed", [&](absl::StatusOr<BatchSummary> s) {
    FUZZ_CHECK(s.ok());
    finished = IsFinal(s->state) && s->results.size() == 6;
  });
  timers.Poll();
  FUZZ_CHECK(finished);
}

}  // namespace
}  // namespace batchd::core

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace batchd::core;
  spdlog::set_level(spdlog::level::off);
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(data);
  if (!events.ok()) {
    FUZZ_CHECK(events.status().code() == absl::StatusCode::kDataLoss);
    return 0;
  }
  std::string reencoded;
  for (const JournalEvent& e : *events) reencoded += Reencode(e);
  absl::StatusOr<std::vector<JournalEvent>> again = DecodeJournalEvents(reencoded);
  FUZZ_CHECK(again.ok() && again->size() == events->size());
  for (size_t i = 0; i < events->size(); ++i) {
    FUZZ_CHECK((*again)[i].kind == (*events)[i].kind && (*again)[i].task == (*events)[i].task);
  }
  if (events->size() <= 200) ReplayIntoScheduler(*events);
  return 0;
}
