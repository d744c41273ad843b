// StreamLimiter: which peers count as one client, which cap a refusal names, and that a lease
// holds its place exactly as long as it lives (moves hand it on, never release it twice).
#include "server/rpc/stream_limiter.h"

#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

// The refusal of a limiter with max_per_client 1 for `client`.
std::string PerClientRefusal(absl::string_view client) {
  return absl::StrCat("Too many open streams from ", client,
                      ": the limit is 1 per client (--max-streams-per-client)");
}

// Asserts that `peer` is refused for its client's cap, `client` being how the refusal names it.
void ExpectRefusedAsClient(StreamLimiter& limiter, std::string_view peer,
                           absl::string_view client) {
  const absl::StatusOr<StreamLimiter::Lease> refused = limiter.Acquire(peer);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << peer;
  EXPECT_EQ(std::string(refused.status().message()), PerClientRefusal(client)) << peer;
}

StreamLimiter::Lease Take(StreamLimiter& limiter, std::string_view peer) {
  absl::StatusOr<StreamLimiter::Lease> lease = limiter.Acquire(peer);
  EXPECT_TRUE(lease.ok()) << peer << ": " << lease.status();
  return lease.ok() ? *std::move(lease) : StreamLimiter::Lease();
}

TEST(StreamLimiterTest, ClientIsThePeerAddressWithoutItsPort) {
  EXPECT_EQ(StreamLimiter::ClientOf("ipv4:127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(StreamLimiter::ClientOf("ipv6:[::1]:5000"), "::1");
  EXPECT_EQ(StreamLimiter::ClientOf("unix:/run/batchd.sock"), "unix");
}

TEST(StreamLimiterTest, CapsPerClientAndInTotalAndReleasesOnDestruction) {
  StreamLimiter limiter(2, 3);
  auto a1 = limiter.Acquire("ipv4:10.0.0.1:1");
  auto a2 = limiter.Acquire("ipv4:10.0.0.1:2");
  ASSERT_TRUE(a1.ok() && a2.ok());
  auto a3 = limiter.Acquire("ipv4:10.0.0.1:3");
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a3.status().message(),
            "Too many open streams from 10.0.0.1: the limit is 2 per "
            "client (--max-streams-per-client)");
  auto b1 = limiter.Acquire("ipv4:10.0.0.2:1");
  ASSERT_TRUE(b1.ok());
  auto b2 = limiter.Acquire("ipv4:10.0.0.2:2");
  EXPECT_EQ(b2.status().message(),
            "Too many open streams: the limit is 3 in total (--max-streams)");
  EXPECT_EQ(limiter.open_streams(), 3u);
  { StreamLimiter::Lease gone = *std::move(a1); }
  EXPECT_EQ(limiter.open_streams(), 2u);
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.1:4").ok());  // acquired and released at once
  EXPECT_EQ(limiter.open_streams(), 2u);
}

TEST(StreamLimiterClientOfTest, Ipv6AddressKeepsItsColonsAndLosesItsPort) {
  EXPECT_EQ(StreamLimiter::ClientOf("ipv6:[2001:db8::17]:443"), "2001:db8::17");
  EXPECT_EQ(StreamLimiter::ClientOf("ipv4:10.1.2.3:65535"), "10.1.2.3");
}

// gRPC 1.51 writes peers as URIs: the brackets of an IPv6 address are percent-encoded.
TEST(StreamLimiterClientOfTest, PercentEncodedIpv6BracketsAsGrpcWritesThem) {
  EXPECT_EQ(StreamLimiter::ClientOf("ipv6:%5B::1%5D:5000"), "::1");
  EXPECT_EQ(StreamLimiter::ClientOf("ipv6:%5B2001:db8::17%5D:443"), "2001:db8::17");
}

TEST(StreamLimiterClientOfTest, EveryUnixSocketPeerIsOneClient) {
  EXPECT_EQ(StreamLimiter::ClientOf("unix:"), "unix");
  EXPECT_EQ(StreamLimiter::ClientOf("unix:/tmp/other.sock"), "unix");
}

TEST(StreamLimiterTest, PortsOfOneHostShareItsCap) {
  StreamLimiter limiter(1, 10);
  StreamLimiter::Lease held = Take(limiter, "ipv6:%5B::1%5D:40000");
  ExpectRefusedAsClient(limiter, "ipv6:%5B::1%5D:40001", "::1");
  // The same host written the older way is still the same client.
  ExpectRefusedAsClient(limiter, "ipv6:[::1]:40002", "::1");
  EXPECT_EQ(limiter.open_streams(), 1u);
}

TEST(StreamLimiterTest, UnixSocketClientsShareOneCap) {
  StreamLimiter limiter(1, 10);
  StreamLimiter::Lease held = Take(limiter, "unix:/run/batchd.sock");
  ExpectRefusedAsClient(limiter, "unix:", "unix");
}

TEST(StreamLimiterTest, TotalCapIsNamedEvenWhenTheClientIsAlsoAtItsCap) {
  StreamLimiter limiter(1, 1);
  StreamLimiter::Lease held = Take(limiter, "ipv4:10.0.0.9:1");
  const absl::StatusOr<StreamLimiter::Lease> refused = limiter.Acquire("ipv4:10.0.0.9:2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "Too many open streams: the limit is 1 in total (--max-streams)");
}

TEST(StreamLimiterTest, ReleaseFreesOnlyTheReleasingClientsPlace) {
  StreamLimiter limiter(1, 10);
  std::optional<StreamLimiter::Lease> a(Take(limiter, "ipv4:10.0.0.1:1"));
  std::optional<StreamLimiter::Lease> b(Take(limiter, "ipv4:10.0.0.2:1"));
  b.reset();
  EXPECT_EQ(limiter.open_streams(), 1u);
  ExpectRefusedAsClient(limiter, "ipv4:10.0.0.1:2", "10.0.0.1");
  a.reset();
  EXPECT_EQ(limiter.open_streams(), 0u);
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.1:3").ok());
}

TEST(StreamLimiterLeaseTest, MoveConstructionHandsThePlaceOnWithoutReleasingIt) {
  StreamLimiter limiter(1, 10);
  std::optional<StreamLimiter::Lease> first(Take(limiter, "ipv4:10.0.0.1:1"));
  std::optional<StreamLimiter::Lease> second(std::move(*first));
  first.reset();  // the moved-from lease holds nothing
  EXPECT_EQ(limiter.open_streams(), 1u);
  ExpectRefusedAsClient(limiter, "ipv4:10.0.0.1:2", "10.0.0.1");
  second.reset();
  EXPECT_EQ(limiter.open_streams(), 0u);
}

TEST(StreamLimiterLeaseTest, MoveAssignmentReleasesThePlaceItHeldBefore) {
  StreamLimiter limiter(1, 10);
  StreamLimiter::Lease target = Take(limiter, "ipv4:10.0.0.1:1");
  StreamLimiter::Lease source = Take(limiter, "ipv4:10.0.0.2:1");
  target = std::move(source);
  EXPECT_EQ(limiter.open_streams(), 1u);
  // 10.0.0.1's place is free again; 10.0.0.2's is now held by `target`.
  StreamLimiter::Lease again = Take(limiter, "ipv4:10.0.0.1:2");
  ExpectRefusedAsClient(limiter, "ipv4:10.0.0.2:2", "10.0.0.2");
  target = StreamLimiter::Lease();
  EXPECT_EQ(limiter.open_streams(), 1u);
  EXPECT_TRUE(limiter.Acquire("ipv4:10.0.0.2:3").ok());
}

TEST(StreamLimiterLeaseTest, DefaultLeaseHoldsNothing) {
  StreamLimiter limiter(1, 1);
  { StreamLimiter::Lease empty; }
  StreamLimiter::Lease empty;
  empty = StreamLimiter::Lease();
  EXPECT_EQ(limiter.open_streams(), 0u);
  EXPECT_TRUE(limiter.Acquire("unix:").ok());
}

TEST(StreamLimiterTest, ConcurrentAcquireAndReleaseBalance) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  StreamLimiter limiter(2, 6);
  std::vector<int> refused(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string peer = "ipv4:10.0.0." + std::to_string(t % 2) + ":1";
      for (int i = 0; i < kRounds; ++i) {
        absl::StatusOr<StreamLimiter::Lease> lease = limiter.Acquire(peer);
        if (!lease.ok()) ++refused[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // Each thread holds at most one lease at a time, two threads per client: never over a cap.
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(refused[t], 0) << "thread " << t;
  EXPECT_EQ(limiter.open_streams(), 0u);
  StreamLimiter::Lease a = Take(limiter, "ipv4:10.0.0.0:2");
  StreamLimiter::Lease b = Take(limiter, "ipv4:10.0.0.0:3");
  EXPECT_EQ(limiter.Acquire("ipv4:10.0.0.0:4").status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace batchd::server
