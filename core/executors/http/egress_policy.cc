#include "core/executors/http/egress_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace batchd::core {
namespace {

namespace ip = boost::asio::ip;

constexpr const char* kBuiltinDeny[] = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254",
                                        "100.100.100.200"};

absl::Status Bad(absl::string_view flag, absl::string_view rule, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", flag, " rule '", rule, "': ", why,
                   " (a host name, *.domain, an IP address or CIDR, each with an optional :PORT)"));
}

absl::StatusOr<EgressRule> ParseRule(absl::string_view flag, absl::string_view text) {
  EgressRule rule;
  rule.text = std::string(text);
  absl::string_view body = text;
  // A port after the last ':', unless the rest is a bare IPv6 address ("fe80::/10").
  if (absl::StartsWith(body, "[")) {
    const size_t close = body.find(']');
    if (close == absl::string_view::npos) return Bad(flag, text, "unterminated '['");
    absl::string_view rest = body.substr(close + 1);
    body = body.substr(1, close - 1);
    if (!rest.empty()) {
      uint32_t port = 0;
      if (!absl::ConsumePrefix(&rest, ":") || !absl::SimpleAtoi(rest, &port) || port == 0 ||
          port > 65535) {
        return Bad(flag, text, "the port must be a number from 1 to 65535");
      }
      rule.port = static_cast<uint16_t>(port);
    }
  } else if (const size_t colon = body.rfind(':');
             colon != absl::string_view::npos && body.find(':') == colon) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(body.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return Bad(flag, text, "the port must be a number from 1 to 65535");
    }
    rule.port = static_cast<uint16_t>(port);
    body = body.substr(0, colon);
  }
  if (body.empty()) return Bad(flag, text, "nothing before the port");
  absl::string_view address = body;
  std::optional<unsigned> prefix;
  if (const size_t slash = body.find('/'); slash != absl::string_view::npos) {
    unsigned bits = 0;
    if (!absl::SimpleAtoi(body.substr(slash + 1), &bits)) {
      return Bad(flag, text, "the prefix length is not a number");
    }
    prefix = bits;
    address = body.substr(0, slash);
  }
  boost::system::error_code ec;
  const ip::address parsed = ip::make_address(std::string(address), ec);
  if (!ec) {
    const unsigned max = parsed.is_v4() ? 32 : 128;
    if (prefix.value_or(max) > max) {
      return Bad(flag, text, absl::StrCat("the prefix length must be at most ", max));
    }
    rule.network = parsed;
    rule.prefix = prefix.value_or(max);
    return rule;
  }
  if (prefix.has_value()) return Bad(flag, text, "a prefix length needs an IP address");
  for (char c : body) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '*') {
      return Bad(flag, text, "not a host name, IP address or CIDR");
    }
  }
  if (absl::StrContains(body.substr(1), '*') || (body[0] == '*' && !absl::StartsWith(body, "*."))) {
    return Bad(flag, text, "'*' is only allowed as '*.domain'");
  }
  rule.host = absl::AsciiStrToLower(body);
  return rule;
}

}  // namespace

bool InNetwork(const ip::address& a, const ip::address& network, unsigned prefix) {
  ip::address address = a;
  // An IPv4-mapped IPv6 address is the IPv4 address it maps.
  if (address.is_v6() && address.to_v6().is_v4_mapped() && network.is_v4()) {
    address = ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  if (address.is_v4() != network.is_v4()) return false;
  if (address.is_v4()) {
    const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
    return (address.to_v4().to_uint() & mask) == (network.to_v4().to_uint() & mask);
  }
  const auto x = address.to_v6().to_bytes();
  const auto y = network.to_v6().to_bytes();
  for (unsigned bit = 0; bit < prefix; ++bit) {
    const unsigned byte = bit / 8;
    const unsigned mask = 0x80u >> (bit % 8);
    if ((x[byte] & mask) != (y[byte] & mask)) return false;
  }
  return true;
}

namespace {

bool HostMatches(const EgressRule& rule, absl::string_view host) {
  const std::string lower = absl::AsciiStrToLower(host);
  if (absl::StartsWith(rule.host, "*.")) {
    return absl::EndsWith(lower, absl::string_view(rule.host).substr(1));
  }
  return lower == rule.host;
}

bool PortMatches(const EgressRule& rule, uint16_t port) {
  return !rule.port.has_value() || *rule.port == port;
}

std::string Describe(const EgressRule& rule) {
  return rule.builtin ? absl::StrCat("'", rule.text,
                                     "' (denied by default: link-local and cloud metadata "
                                     "addresses; --http-allow can name it)")
                      : absl::StrCat("'", rule.text, "' (--http-deny)");
}

}  // namespace

EgressPolicy::EgressPolicy() : EgressPolicy(*Make({}, {})) {}

absl::StatusOr<EgressPolicy> EgressPolicy::Make(const std::vector<std::string>& deny,
                                                const std::vector<std::string>& allow) {
  EgressPolicy policy{Empty{}};
  for (const std::string& text : allow) {
    absl::StatusOr<EgressRule> rule = ParseRule("--http-allow", text);
    if (!rule.ok()) return rule.status();
    policy.allow_.push_back(*std::move(rule));
  }
  for (const char* text : kBuiltinDeny) {
    EgressRule rule = ParseRule("built-in", text).value();
    rule.builtin = true;
    policy.deny_.push_back(std::move(rule));
  }
  for (const std::string& text : deny) {
    absl::StatusOr<EgressRule> rule = ParseRule("--http-deny", text);
    if (!rule.ok()) return rule.status();
    policy.deny_.push_back(*std::move(rule));
  }
  return policy;
}

std::string EgressPolicy::CheckHost(absl::string_view host, uint16_t port) const {
  for (const EgressRule& rule : deny_) {
    if (!rule.host.empty() && HostMatches(rule, host) && PortMatches(rule, port)) {
      return absl::StrCat("egress to ", host, ":", port, " is denied by rule ", Describe(rule));
    }
  }
  return "";
}

std::string EgressPolicy::CheckAddress(absl::string_view host, const ip::address& address,
                                       uint16_t port) const {
  const std::string where =
      address.to_string() == host
          ? absl::StrCat(host, ":", port)
          : absl::StrCat(host, ":", port, " (resolved to ", address.to_string(), ")");
  bool allowed = allow_.empty();
  bool named = false;  // an allow rule names it: it passes the built-in denials
  for (const EgressRule& rule : allow_) {
    if (!PortMatches(rule, port)) continue;
    const bool match = rule.network.has_value() ? InNetwork(address, *rule.network, rule.prefix)
                                                : HostMatches(rule, host);
    if (match) {
      allowed = true;
      named = true;
      break;
    }
  }
  for (const EgressRule& rule : deny_) {
    if (!rule.network.has_value() || !PortMatches(rule, port)) continue;
    if (rule.builtin && named) continue;
    if (InNetwork(address, *rule.network, rule.prefix)) {
      return absl::StrCat("egress to ", where, " is denied by rule ", Describe(rule));
    }
  }
  if (!allowed) {
    return absl::StrCat("egress to ", where, " is not allowed: no --http-allow rule names it");
  }
  return "";
}

}  // namespace batchd::core
