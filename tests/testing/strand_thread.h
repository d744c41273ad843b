// An io_context with one strand, run by a thread of its own, for tests that drive a real
// Scheduler (or anything else on a strand) from the test's thread. Stop() lets the thread go;
// call it before destroying what runs on the strand (the destructor stops it too).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

namespace batchd::testing {

class StrandThread {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  StrandThread()
      : strand_(boost::asio::make_strand(io_)), work_(boost::asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
  }
  StrandThread(const StrandThread&) = delete;
  StrandThread& operator=(const StrandThread&) = delete;
  ~StrandThread() { Stop(); }

  Strand& strand() { return strand_; }

  void Stop() {
    if (!thread_.joinable()) return;
    work_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  boost::asio::io_context io_;
  Strand strand_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace batchd::testing
