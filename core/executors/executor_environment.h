// What executors may use from the daemon: the scheduler's io_context and strand (for timers and
// asynchronous I/O), the clock, the timer service and the registry to add themselves to.
// References stay valid for the daemon's lifetime. Timers must be used on the strand only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "core/executors/executor_registry.h"
#include "core/time/clock.h"
#include "core/time/timer_service.h"

namespace batchd::core {

struct ExecutorEnvironment {
  boost::asio::io_context& io;
  boost::asio::strand<boost::asio::io_context::executor_type> strand;
  const Clock& clock;
  TimerService& timers;
  ExecutorRegistry& registry;
};

}  // namespace batchd::core
