// One-shot timers. Handlers run on the scheduler's strand; Schedule and Cancel are called
// from that strand only (not thread-safe by themselves).
#pragma once

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "core/time/clock.h"

namespace batchd::core {

using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

class TimerService {
 public:
  virtual ~TimerService() = default;
  // Runs `handler` once at or after `at`. Never returns kNoTimer.
  virtual TimerId ScheduleAt(SteadyTime at, absl::AnyInvocable<void()> handler) = 0;
  // Drops a pending timer; no effect if it already ran or was cancelled.
  virtual void Cancel(TimerId id) = 0;
};

}  // namespace batchd::core
