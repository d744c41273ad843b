#include "core/executors/builtin_executors.h"

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/process/json_number.h"

namespace batchd::core {
namespace {

constexpr uint64_t kMaxSleepMs = 24ull * 3600 * 1000;

}  // namespace

void EchoExecutor::Start(const ExecutionRequest& request, CompletionSink& sink) {
  sink.Complete(request.token, ExecutionOutcome::Success(request.input));
}

void SleepExecutor::Start(const ExecutionRequest& request, CompletionSink& sink) {
  const boost::json::value* ms_value = &request.input;
  if (const boost::json::object* obj = request.input.if_object()) {
    ms_value = obj->if_contains("ms");
  }
  std::optional<uint64_t> ms;
  if (ms_value != nullptr) ms = AsNonNegativeInteger(*ms_value);
  if (!ms.has_value() || *ms > kMaxSleepMs) {
    sink.Complete(request.token,
                  ExecutionOutcome::Failure(
                      absl::StrCat("sleep: input.ms must be a whole number of milliseconds "
                                   "between 0 and ",
                                   kMaxSleepMs, " (input is a number or {\"ms\": N})"),
                      /*non_retryable=*/true));
    return;
  }
  AttemptToken token = request.token;
  TimerId id = timers_.ScheduleAt(
      clock_.SteadyNow() + std::chrono::milliseconds(*ms), [this, token, ms = *ms, &sink] {
        sleeping_.erase(token);
        sink.Complete(token, ExecutionOutcome::Success(boost::json::object{{"slept_ms", ms}}));
      });
  sleeping_[token] = id;
}

void SleepExecutor::Cancel(const AttemptToken& token) {
  auto it = sleeping_.find(token);
  if (it == sleeping_.end()) return;
  timers_.Cancel(it->second);
  sleeping_.erase(it);
}

void FailExecutor::Start(const ExecutionRequest& request, CompletionSink& sink) {
  std::string error = "fail: failing as requested";
  std::optional<uint64_t> succeed_on;
  if (const boost::json::object* obj = request.input.if_object()) {
    if (const boost::json::value* e = obj->if_contains("error")) {
      if (const boost::json::string* s = e->if_string()) error = std::string(*s);
    }
    if (const boost::json::value* k = obj->if_contains("succeed_on_attempt")) {
      succeed_on = AsNonNegativeInteger(*k);
      if (!succeed_on.has_value()) {
        sink.Complete(request.token,
                      ExecutionOutcome::Failure(
                          "fail: input.succeed_on_attempt must be a non-negative integer",
                          /*non_retryable=*/true));
        return;
      }
    }
  }
  if (succeed_on.has_value() && request.attempt >= *succeed_on) {
    sink.Complete(request.token,
                  ExecutionOutcome::Success(boost::json::object{{"attempt", request.attempt}}));
    return;
  }
  sink.Complete(request.token, ExecutionOutcome::Failure(std::move(error)));
}

absl::Status RegisterBuiltinExecutors(ExecutorRegistry& registry, const Clock& clock,
                                      TimerService& timers) {
  RETURN_IF_ERROR(registry.Register({"echo", "builtin", 0, 0}, std::make_unique<EchoExecutor>()));
  RETURN_IF_ERROR(registry.Register({"sleep", "builtin", 0, 0},
                                    std::make_unique<SleepExecutor>(clock, timers)));
  RETURN_IF_ERROR(registry.Register({"fail", "builtin", 0, 0}, std::make_unique<FailExecutor>()));
  return registry.Register({"external", "builtin", 0, 0}, std::make_unique<ExternalExecutor>());
}

}  // namespace batchd::core
