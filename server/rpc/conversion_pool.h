// A few threads that convert core values to protobuf and write gRPC streams and answers, so the
// scheduler's strand only hands work over (DESIGN.md, Threads; issue 17 part 4). Jobs run in no
// set order: a stream keeps its messages in order by having at most one job of its own queued
// or running. Post() is thread-safe. Join() (also run by the destructor) runs every job posted
// before it and those they post, then lets the threads go; it must run after the calls whose
// jobs it runs have ended (after the gRPC server's Wait).
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <cstddef>

#include "absl/functional/any_invocable.h"

namespace batchd::server {

class ConversionPool {
 public:
  // One thread per hardware thread.
  static size_t DefaultThreads();

  explicit ConversionPool(size_t threads = DefaultThreads());
  ConversionPool(const ConversionPool&) = delete;
  ConversionPool& operator=(const ConversionPool&) = delete;
  ~ConversionPool();

  void Post(absl::AnyInvocable<void() &&> job);
  // Waits until no job is left, then joins the threads. Idempotent.
  void Join();

  size_t threads() const { return threads_; }

 private:
  const size_t threads_;
  boost::asio::thread_pool pool_;
};

}  // namespace batchd::server
