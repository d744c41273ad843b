#include "server/rpc/conversion_pool.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <thread>
#include <utility>

namespace batchd::server {

size_t ConversionPool::DefaultThreads() {
  return std::max<size_t>(1, std::thread::hardware_concurrency());
}

ConversionPool::ConversionPool(size_t threads)
    : threads_(std::max<size_t>(1, threads)), pool_(threads_) {}

ConversionPool::~ConversionPool() { Join(); }

// join() without stop() lets the threads run until no job is left (jobs posted by jobs
// included), then returns; a second join() returns at once.
void ConversionPool::Join() { pool_.join(); }

void ConversionPool::Post(absl::AnyInvocable<void() &&> job) {
  boost::asio::post(pool_, [job = std::move(job)]() mutable { std::move(job)(); });
}

}  // namespace batchd::server
