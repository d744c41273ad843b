#include "core/time/asio_timer_service.h"

#include <boost/asio/bind_executor.hpp>

namespace batchd::core {

AsioTimerService::AsioTimerService(Strand strand, const Clock& clock, Duration granularity)
    : strand_(strand), clock_(clock), timer_(strand), granularity_(granularity) {}

TimerId AsioTimerService::ScheduleAt(SteadyTime at, absl::AnyInvocable<void()> handler) {
  TimerId id = queue_.Add(at, std::move(handler));
  if (!firing_ && (!armed_for_.has_value() || at < *armed_for_)) Rearm();
  return id;
}

void AsioTimerService::Cancel(TimerId id) { queue_.Cancel(id); }

void AsioTimerService::Rearm() {
  std::optional<SteadyTime> next = queue_.NextDeadline();
  armed_for_ = next;
  if (!next.has_value()) {
    timer_.cancel();
    return;
  }
  SteadyTime wake = *next;
  if (granularity_.count() > 0) {
    const auto since_epoch = wake.time_since_epoch();
    wake = SteadyTime((since_epoch + granularity_ - Duration(1)) / granularity_ * granularity_);
  }
  armed_for_ = wake;
  timer_.expires_at(wake);
  timer_.async_wait(boost::asio::bind_executor(strand_, [this](boost::system::error_code ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    OnExpiry();
  }));
}

void AsioTimerService::OnExpiry() {
  armed_for_.reset();
  const SteadyTime now = clock_.SteadyNow();
  firing_ = true;
  while (auto handler = queue_.PopDue(now)) (*handler)();
  firing_ = false;
  Rearm();
}

}  // namespace batchd::core
