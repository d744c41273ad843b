#include "core/scheduling/limit_gate.h"

#include <utility>

#include "core/base/status_macros.h"

namespace batchd::core {

LimitGate::LimitGate(const Clock& clock, TimerService& timers, LimitTableOptions options,
                     absl::AnyInvocable<void()> due)
    : clock_(clock), timers_(timers), due_(std::move(due)), table_(options) {}

LimitGate::~LimitGate() {
  if (timer_ != kNoTimer) timers_.Cancel(timer_);
}

absl::Status LimitGate::Set(LimitSpec spec) {
  LimitSpec copy = spec;
  RETURN_IF_ERROR(table_.Set(std::move(spec), clock_.SteadyNow()));
  if (copy.units_header.empty()) {
    header_keys_.erase(copy.key);
  } else {
    header_keys_.insert(copy.key);
  }
  catalog_.Set(copy);
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status LimitGate::Delete(absl::string_view key) {
  RETURN_IF_ERROR(table_.Delete(key, clock_.SteadyNow()));
  header_keys_.erase(key);
  catalog_.Erase(key);
  dirty_ = true;
  return absl::OkStatus();
}

std::optional<LimitState> LimitGate::Get(absl::string_view key) const {
  return table_.Get(key, clock_.SteadyNow());
}

std::vector<LimitState> LimitGate::List() const { return table_.List(clock_.SteadyNow()); }

absl::StatusOr<LimitAcquire> LimitGate::Acquire(LimitTaskRef task, double priority,
                                                absl::Span<const LimitUse> demand, SteadyTime now) {
  absl::StatusOr<LimitAcquire> a = table_.Acquire(task, priority, demand, now);
  // A refused task may need the timer at its key's refill time: the next Drain arms it.
  if (a.ok() && !a->granted) dirty_ = true;
  return a;
}

void LimitGate::Leave(LimitTaskRef task) {
  table_.Leave(task, clock_.SteadyNow());
  dirty_ = dirty_ || table_.NeedsWake(timer_at_);
}

void LimitGate::Release(absl::Span<const LimitUse> demand, const LimitRelease& how) {
  table_.Release(demand, how, clock_.SteadyNow());
  // Most releases free nothing anybody waits for: no Drain (and no clock read) for them.
  dirty_ = dirty_ || table_.NeedsWake(timer_at_);
}

const std::string* LimitGate::UnitsHeader(absl::Span<const LimitUse> demand) const {
  if (header_keys_.empty()) return nullptr;  // the common case: no hash lookups per attempt
  for (const LimitUse& use : demand) {
    const LimitSpec* spec = table_.FindSpec(use.key);
    if (spec != nullptr && !spec->units_header.empty()) return &spec->units_header;
  }
  return nullptr;
}

const LimitWakeups& LimitGate::Drain() {
  dirty_ = false;
  table_.Wake(clock_.SteadyNow(), wakeups_);
  Arm(wakeups_.next_wake);
  return wakeups_;
}

void LimitGate::Arm(std::optional<SteadyTime> at) {
  if (at == timer_at_) return;
  if (timer_ != kNoTimer) timers_.Cancel(std::exchange(timer_, kNoTimer));
  timer_at_ = at;
  if (!at.has_value()) return;
  timer_ = timers_.ScheduleAt(*at, [this] {
    timer_ = kNoTimer;
    timer_at_.reset();
    dirty_ = true;
    due_();
  });
}

}  // namespace batchd::core
