// Where the http executor may send requests: rules from --http-deny and --http-allow, checked
// on the URL's host before the DNS lookup and on every address it resolves to before a
// connection is made, so a name cannot smuggle a denied address in. A rule is a host name
// ("api.example.com", or "*.example.com" for its subdomains), an IP address or a CIDR block
// ("10.0.0.0/8", "fd00::/8"), each optionally with ":PORT" ("[::1]:8080" for IPv6). Deny rules
// win; with allow rules, a destination must also match one of them. Link-local addresses
// (169.254.0.0/16, fe80::/10) and the cloud metadata endpoints (169.254.169.254,
// fd00:ec2::254, 100.100.100.200) are denied unless --http-allow names them. Immutable once
// built: thread-safe.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

struct EgressRule {
  std::string text;  // as written, for messages
  std::string host;  // a name rule: lower case; "*.x" matches subdomains of x
  std::optional<boost::asio::ip::address> network;  // an address or CIDR rule
  unsigned prefix = 0;
  std::optional<uint16_t> port;
  bool builtin = false;  // a default deny rule
};

// Whether `address` is in `network`/`prefix` (an IPv4-mapped IPv6 address counts as its IPv4
// address).
bool InNetwork(const boost::asio::ip::address& address, const boost::asio::ip::address& network,
               unsigned prefix);

class EgressPolicy {
 public:
  // INVALID_ARGUMENT naming the rule and its flag (--http-deny, --http-allow) when one does not
  // parse.
  static absl::StatusOr<EgressPolicy> Make(const std::vector<std::string>& deny,
                                           const std::vector<std::string>& allow);
  // Only the default denials.
  EgressPolicy();

  // Before the lookup: "" when `host` (as in the URL) and `port` may be asked for, else why not.
  std::string CheckHost(absl::string_view host, uint16_t port) const;
  // After it: "" when a connection to `address`:`port` (which `host` resolved to) is allowed.
  std::string CheckAddress(absl::string_view host, const boost::asio::ip::address& address,
                           uint16_t port) const;

 private:
  struct Empty {};
  explicit EgressPolicy(Empty) {}

  std::vector<EgressRule> deny_;
  std::vector<EgressRule> allow_;
};

}  // namespace batchd::core
