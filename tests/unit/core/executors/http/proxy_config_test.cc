// ProxyConfig: parsing the variables, which requests go through which proxy, and the errors.
#include "core/executors/http/proxy_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

TEST(ProxyConfigTest, NothingSetMeansDirect) {
  const ProxyConfig config = *ProxyConfig::Make("", "", "");
  EXPECT_TRUE(config.empty());
  EXPECT_EQ(config.For(true, "api.example.com", 443), nullptr);
  EXPECT_EQ(config.Describe(), "");
}

TEST(ProxyConfigTest, EachSchemeHasItsOwnProxy) {
  const ProxyConfig config =
      *ProxyConfig::Make("http://plain.proxy:3128", "http://u:p@tls.proxy", "");
  const HttpProxy* plain = config.For(false, "example.com", 80);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->HostPort(), "plain.proxy:3128");
  EXPECT_EQ(plain->authorization, "");
  const HttpProxy* tls = config.For(true, "example.com", 443);
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->HostPort(), "tls.proxy:80");
  EXPECT_EQ(tls->authorization, "Basic dTpw");
  EXPECT_EQ(config.Describe(), "http:// via plain.proxy:3128, https:// via tls.proxy:80");
}

TEST(ProxyConfigTest, ASchemelessValueIsAnHttpProxy) {
  const ProxyConfig config = *ProxyConfig::Make("", "[::1]:8080/", "");
  ASSERT_NE(config.For(true, "x", 443), nullptr);
  EXPECT_EQ(config.For(true, "x", 443)->HostPort(), "[::1]:8080");
  EXPECT_EQ(config.For(false, "x", 80), nullptr);  // no HTTP_PROXY
}

TEST(ProxyConfigTest, NoProxyMatchesDomainsAddressesCidrsAndPorts) {
  const ProxyConfig config = *ProxyConfig::Make(
      "http://p:1", "http://p:1", "internal.example, .corp,*.lan, 10.0.0.0/8, ::1, svc:8443");
  EXPECT_EQ(config.For(true, "internal.example", 443), nullptr);
  EXPECT_EQ(config.For(true, "API.Internal.Example", 443), nullptr);
  EXPECT_EQ(config.For(true, "x.corp", 443), nullptr);
  EXPECT_EQ(config.For(true, "printer.lan", 443), nullptr);
  EXPECT_EQ(config.For(true, "10.1.2.3", 443), nullptr);
  EXPECT_EQ(config.For(true, "::1", 443), nullptr);
  EXPECT_EQ(config.For(true, "svc", 8443), nullptr);
  EXPECT_NE(config.For(true, "svc", 443), nullptr);
  EXPECT_NE(config.For(true, "notinternal.example", 443), nullptr);
  EXPECT_NE(config.For(true, "11.0.0.1", 443), nullptr);
  EXPECT_NE(config.For(true, "api.example.com", 443), nullptr);
}

TEST(ProxyConfigTest, AStarBypassesEverything) {
  const ProxyConfig config = *ProxyConfig::Make("http://p:1", "", "*");
  EXPECT_EQ(config.For(false, "anything", 80), nullptr);
}

TEST(ProxyConfigTest, BadValuesNameTheVariable) {
  EXPECT_EQ(ProxyConfig::Make("", "https://p:1", "").status().message(),
            "invalid HTTPS_PROXY: TLS to the proxy is not supported (write "
            "http://[user:password@]host[:port])");
  EXPECT_EQ(ProxyConfig::Make("socks5://p:1", "", "").status().message(),
            "invalid HTTP_PROXY: 'socks5://p:1' is not an http:// URL (write "
            "http://[user:password@]host[:port])");
  EXPECT_EQ(ProxyConfig::Make("http://p:99999", "", "").status().message(),
            "invalid HTTP_PROXY: no host, or a port that is not a number from 1 to 65535 (write "
            "http://[user:password@]host[:port])");
  EXPECT_EQ(ProxyConfig::Make("", "", "10.0.0.0/99").status().message(),
            "invalid NO_PROXY entry '10.0.0.0/99': prefix longer than 32");
}

}  // namespace
}  // namespace batchd::core
