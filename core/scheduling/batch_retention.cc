#include "core/scheduling/batch_retention.h"

#include <optional>
#include <utility>

namespace batchd::core {

BatchRetention::BatchRetention(const Clock& clock, TimerService& timers, Duration retention,
                               size_t max_batches, Evict evict)
    : clock_(clock), timers_(timers), finished_(retention, max_batches), evict_(std::move(evict)) {}

void BatchRetention::Add(BatchPtr batch) {
  finished_.Add(std::move(batch));
  EvictExpired();
}

void BatchRetention::AddRecovered(BatchPtr batch) {
  finished_.AddRecovered(std::move(batch));
  EvictExpired();
}

void BatchRetention::EvictExpired() {
  while (const BatchPtr oldest = finished_.PopExpired(clock_.SteadyNow())) evict_(oldest);
  if (const TimerId timer = std::exchange(timer_, kNoTimer); timer != kNoTimer) {
    timers_.Cancel(timer);
  }
  if (const std::optional<SteadyTime> next = finished_.NextExpiry()) {
    timer_ = timers_.ScheduleAt(*next, [this] {
      timer_ = kNoTimer;
      EvictExpired();
    });
  }
}

}  // namespace batchd::core
