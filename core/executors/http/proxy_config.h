// The proxies the http executor goes through, from the conventional environment variables:
// HTTP_PROXY for http:// requests (sent to the proxy in absolute form), HTTPS_PROXY for https://
// (a CONNECT tunnel to the origin, TLS end to end), NO_PROXY for the destinations reached
// directly. Lower-case names win over upper-case ones, as in curl. Off unless set. A proxy is
// "http://[user:password@]host[:port]" (port 80 when omitted; TLS to the proxy itself is not
// supported); NO_PROXY is a comma-separated list of "*" (everything), host names (matching the
// name and its subdomains; a leading "." or "*." is allowed), IP addresses and CIDRs (matching
// URLs that name an address), each with an optional ":PORT". Immutable: thread-safe.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

struct HttpProxy {
  std::string host;
  uint16_t port = 80;
  std::string authorization;     // the Proxy-Authorization value ("Basic …"), "" without a user
  std::string HostPort() const;  // "host:port" ("[::1]:3128" for IPv6)
};

class ProxyConfig {
 public:
  // Values of the variables, "" when unset. INVALID_ARGUMENT naming the variable when a value
  // does not parse.
  static absl::StatusOr<ProxyConfig> Make(absl::string_view http_proxy,
                                          absl::string_view https_proxy,
                                          absl::string_view no_proxy);
  // From the process's environment (http_proxy/HTTP_PROXY, https_proxy/HTTPS_PROXY,
  // no_proxy/NO_PROXY).
  static absl::StatusOr<ProxyConfig> FromEnvironment();
  ProxyConfig() = default;  // no proxy

  // The proxy a request to `host`:`port` goes through; null for a direct connection.
  const HttpProxy* For(bool tls, absl::string_view host, uint16_t port) const;
  bool empty() const { return !http_.has_value() && !https_.has_value(); }
  // "http:// via proxy:3128, https:// via proxy:3128, not for: localhost,10.0.0.0/8" for the
  // start-up log; "" without proxies.
  std::string Describe() const;

 private:
  struct Bypass {
    std::string text;    // as written
    std::string domain;  // lower case, without a leading "." or "*."; "" for an address rule
    std::optional<boost::asio::ip::address> network;
    unsigned prefix = 0;
    std::optional<uint16_t> port;
  };
  static absl::StatusOr<HttpProxy> ParseProxy(absl::string_view variable, absl::string_view url);
  static absl::StatusOr<Bypass> ParseBypass(absl::string_view entry);
  bool Bypassed(absl::string_view host, uint16_t port) const;

  std::optional<HttpProxy> http_;
  std::optional<HttpProxy> https_;
  bool bypass_all_ = false;
  std::vector<Bypass> bypass_;
};

}  // namespace batchd::core
