// Simulated time for unit tests: a clock that only moves when told, and a timer service
// whose due timers fire (on the scheduler's strand, via the test's io_context) as the clock
// is advanced. No test that uses it ever sleeps. Single-threaded: drive it from the test.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "core/time/clock.h"
#include "core/time/timer_queue.h"
#include "core/time/timer_service.h"

namespace batchd::testing {

class FakeClock final : public core::Clock {
 public:
  core::SteadyTime SteadyNow() const override { return now_; }
  core::WallTime WallNow() const override {
    return core::WallTime(std::chrono::hours(24 * 365 * 56)) +
           std::chrono::duration_cast<core::WallTime::duration>(now_ - core::SteadyTime());
  }
  void Set(core::SteadyTime t) { now_ = t; }
  core::Duration Elapsed() const { return now_ - core::SteadyTime(); }

 private:
  core::SteadyTime now_{std::chrono::hours(1)};
};

class FakeTimerService final : public core::TimerService {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  FakeTimerService(FakeClock& clock, boost::asio::io_context& io, Strand strand)
      : clock_(clock), io_(io), strand_(strand) {}

  core::TimerId ScheduleAt(core::SteadyTime at, absl::AnyInvocable<void()> handler) override {
    return queue_.Add(at, std::move(handler));
  }
  void Cancel(core::TimerId id) override { queue_.Cancel(id); }

  // Runs everything queued on the io_context, then moves the clock forward by `d`, firing due
  // timers in deadline order (each on the strand, with the clock set to its deadline) and
  // running whatever they queue.
  void Advance(core::Duration d) {
    const core::SteadyTime target = clock_.SteadyNow() + d;
    Poll();
    while (true) {
      std::optional<core::SteadyTime> next = queue_.NextDeadline();
      if (!next.has_value() || *next > target) break;
      if (*next > clock_.SteadyNow()) clock_.Set(*next);
      while (auto handler = queue_.PopDue(clock_.SteadyNow())) {
        boost::asio::post(strand_, std::move(*handler));
      }
      Poll();
    }
    clock_.Set(target);
    Poll();
  }
  void Poll() {
    io_.restart();
    io_.poll();
  }
  size_t pending() const { return queue_.size(); }

 private:
  FakeClock& clock_;
  boost::asio::io_context& io_;
  Strand strand_;
  core::TimerQueue queue_;
};

}  // namespace batchd::testing
