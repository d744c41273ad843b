// ConnectionPool's bounds and queue, with connections that are never connected (so nothing is
// kept idle): who gets a connection, in which order, and when. No sockets, no sleeping.
#include "core/executors/http/connection_pool.h"

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;

class ConnectionPoolTest : public ::testing::Test {
 protected:
  void MakePool(uint32_t per_host, uint32_t total) {
    pool_ = std::make_shared<ConnectionPool>(
        io_, nullptr, ConnectionPoolOptions{per_host, total, std::chrono::seconds(30)});
  }
  // Asks for a connection to `host`; what it gets is recorded under `name`.
  uint64_t Ask(const std::string& name, const std::string& host, bool fresh = false) {
    return pool_->Acquire({false, host, 80, ""}, fresh,
                          [this, name](std::shared_ptr<HttpConnection> c, bool reused) {
                            given_.push_back(name);
                            EXPECT_FALSE(reused);
                            held_[name] = std::move(c);
                          });
  }
  void GiveBack(const std::string& name) {
    pool_->Release(std::move(held_.at(name)), /*keep=*/true);  // not connected: closed
    held_.erase(name);
  }

  boost::asio::io_context io_;
  std::shared_ptr<ConnectionPool> pool_;
  std::vector<std::string> given_;
  std::map<std::string, std::shared_ptr<HttpConnection>> held_;
};

TEST_F(ConnectionPoolTest, RequestsBeyondTheBoundPerHostWaitInOrder) {
  MakePool(/*per_host=*/2, /*total=*/10);
  EXPECT_EQ(Ask("a", "x"), 0u);
  EXPECT_EQ(Ask("b", "x"), 0u);
  EXPECT_NE(Ask("c", "x"), 0u);
  EXPECT_NE(Ask("d", "x"), 0u);
  EXPECT_EQ(Ask("e", "y"), 0u);  // another host has its own bound
  EXPECT_THAT(given_, ElementsAre("a", "b", "e"));
  EXPECT_EQ(pool_->stats().waiting, 2u);
  GiveBack("b");
  GiveBack("a");
  EXPECT_THAT(given_, ElementsAre("a", "b", "e", "c", "d"));
  const ConnectionPoolStats stats = pool_->stats();
  EXPECT_EQ(stats.opened, 5u);
  EXPECT_EQ(stats.open, 3u);
  EXPECT_EQ(stats.waiting, 0u);
}

TEST_F(ConnectionPoolTest, TheTotalBoundServesWaitersOfAnyHostFirstComeFirstServed) {
  MakePool(/*per_host=*/10, /*total=*/2);
  Ask("a", "x");
  Ask("b", "y");
  Ask("c", "z");
  Ask("d", "x");
  EXPECT_THAT(given_, ElementsAre("a", "b"));
  GiveBack("a");
  EXPECT_THAT(given_, ElementsAre("a", "b", "c"));
  GiveBack("b");
  EXPECT_THAT(given_, ElementsAre("a", "b", "c", "d"));
}

TEST_F(ConnectionPoolTest, ALaterRequestForAHostQueuesBehindEarlierOnes) {
  MakePool(/*per_host=*/1, /*total=*/1);
  Ask("a", "x");
  Ask("b", "y");  // waits for the total
  GiveBack("a");
  EXPECT_THAT(given_, ElementsAre("a", "b"));
  Ask("c", "y");  // waits behind nobody but the bound
  EXPECT_THAT(given_, ElementsAre("a", "b"));
  GiveBack("b");
  EXPECT_THAT(given_, ElementsAre("a", "b", "c"));
}

TEST_F(ConnectionPoolTest, ACancelledWaitIsNeverServed) {
  MakePool(/*per_host=*/1, /*total=*/10);
  Ask("a", "x");
  const uint64_t ticket = Ask("b", "x");
  Ask("c", "x");
  EXPECT_TRUE(pool_->CancelWait(ticket));
  EXPECT_FALSE(pool_->CancelWait(ticket));
  GiveBack("a");
  EXPECT_THAT(given_, ElementsAre("a", "c"));
  EXPECT_FALSE(pool_->CancelWait(0));
}

TEST_F(ConnectionPoolTest, KeepsNothingWhenTheIdleTimeoutIsZero) {
  pool_ = std::make_shared<ConnectionPool>(io_, nullptr,
                                           ConnectionPoolOptions{1, 1, std::chrono::seconds(0)});
  EXPECT_FALSE(pool_->keeps_alive());
  Ask("a", "x");
  GiveBack("a");
  EXPECT_EQ(pool_->stats().idle, 0u);
  EXPECT_EQ(pool_->stats().open, 0u);
}

}  // namespace
}  // namespace batchd::core
