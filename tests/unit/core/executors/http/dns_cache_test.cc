// DnsCache on explicit time points: what is kept, for how long, and what goes when it is full.
#include "core/executors/http/dns_cache.h"

#include <boost/asio/ip/address.hpp>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using std::chrono::milliseconds;
using Endpoint = boost::asio::ip::tcp::endpoint;

DnsCache::Endpoints One(const char* address, uint16_t port) {
  return {Endpoint(boost::asio::ip::make_address(address), port)};
}

TEST(DnsCacheTest, AnAnswerIsKeptForTheTtl) {
  DnsCache cache(milliseconds(10000));
  const DnsCache::Clock::time_point t0{};
  cache.Store("api.example.com", 443, One("192.0.2.1", 443), t0);
  ASSERT_TRUE(cache.Find("api.example.com", 443, t0 + milliseconds(9999)).has_value());
  EXPECT_EQ(cache.Find("api.example.com", 443, t0 + milliseconds(9999))->front().address(),
            boost::asio::ip::make_address("192.0.2.1"));
  EXPECT_FALSE(cache.Find("api.example.com", 443, t0 + milliseconds(10000)).has_value());
  EXPECT_FALSE(cache.Find("api.example.com", 80, t0).has_value());  // per port
}

TEST(DnsCacheTest, ATtlOfZeroKeepsNothing) {
  DnsCache cache(milliseconds(0));
  cache.Store("a", 80, One("192.0.2.1", 80), {});
  EXPECT_FALSE(cache.Find("a", 80, {}).has_value());
}

TEST(DnsCacheTest, WhenFullTheOldestAnswerGoes) {
  DnsCache cache(milliseconds(10000), /*max_names=*/2);
  const DnsCache::Clock::time_point t0{};
  cache.Store("a", 80, One("192.0.2.1", 80), t0);
  cache.Store("b", 80, One("192.0.2.2", 80), t0 + milliseconds(1));
  cache.Store("c", 80, One("192.0.2.3", 80), t0 + milliseconds(2));
  EXPECT_FALSE(cache.Find("a", 80, t0 + milliseconds(3)).has_value());
  EXPECT_TRUE(cache.Find("b", 80, t0 + milliseconds(3)).has_value());
  EXPECT_TRUE(cache.Find("c", 80, t0 + milliseconds(3)).has_value());
}

}  // namespace
}  // namespace batchd::core
