// Production TimerService: a TimerQueue driven by a single asio steady_timer armed for the
// earliest deadline, so millions of pending timers cost one heap entry each. Wake-ups are
// coalesced: the timer is armed for the earliest deadline rounded up to `granularity`, and
// every timer due by then fires in that one wake-up (never early; at most `granularity` late).
// All methods and handlers run on the strand given at construction.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/time/timer_queue.h"
#include "core/time/timer_service.h"

namespace batchd::core {

class AsioTimerService final : public TimerService {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  AsioTimerService(Strand strand, const Clock& clock,
                   Duration granularity = std::chrono::microseconds(100));

  TimerId ScheduleAt(SteadyTime at, absl::AnyInvocable<void()> handler) override;
  void Cancel(TimerId id) override;

 private:
  void Rearm();
  void OnExpiry();

  Strand strand_;
  const Clock& clock_;
  boost::asio::steady_timer timer_;
  TimerQueue queue_;
  const Duration granularity_;
  std::optional<SteadyTime> armed_for_;
  bool firing_ = false;
};

}  // namespace batchd::core
