#include "core/executors/http/proxy_config.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/executors/http/egress_policy.h"

namespace batchd::core {
namespace {

namespace ip = boost::asio::ip;

absl::Status BadProxy(absl::string_view variable, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", variable, ": ", why, " (write http://[user:password@]host[:port])"));
}

// Splits "host:port", "[v6]:port", "host" or "[v6]"; false for a bad port.
bool SplitHostPort(absl::string_view text, std::string& host, std::optional<uint16_t>& port) {
  absl::string_view rest;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return false;
    host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
  } else if (const size_t colon = text.rfind(':');
             colon != absl::string_view::npos && text.find(':') == colon) {
    host = std::string(text.substr(0, colon));
    rest = text.substr(colon);
  } else {
    host = std::string(text);
  }
  if (rest.empty()) return true;
  uint32_t number = 0;
  if (!absl::ConsumePrefix(&rest, ":") || !absl::SimpleAtoi(rest, &number) || number == 0 ||
      number > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(number);
  return true;
}

std::string PercentDecoded(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int value = 0;
    if (s[i] == '%' && i + 2 < s.size() && absl::SimpleHexAtoi(s.substr(i + 1, 2), &value)) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

const char* Env(const char* lower, const char* upper) {
  const char* value = std::getenv(lower);
  if (value == nullptr || *value == '\0') value = std::getenv(upper);
  return value == nullptr ? "" : value;
}

}  // namespace

std::string HttpProxy::HostPort() const {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

absl::StatusOr<HttpProxy> ProxyConfig::ParseProxy(absl::string_view variable,
                                                  absl::string_view url) {
  absl::string_view rest = absl::StripAsciiWhitespace(url);
  if (absl::StartsWithIgnoreCase(rest, "https://")) {
    return BadProxy(variable, "TLS to the proxy is not supported");
  }
  if (!absl::ConsumePrefix(&rest, "http://") && absl::StrContains(rest, "://")) {
    return BadProxy(variable, absl::StrCat("'", url, "' is not an http:// URL"));
  }
  rest = rest.substr(0, rest.find('/'));
  HttpProxy proxy;
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const std::string user_info = PercentDecoded(rest.substr(0, at));
    proxy.authorization = absl::StrCat("Basic ", absl::Base64Escape(user_info));
    rest = rest.substr(at + 1);
  }
  std::optional<uint16_t> port;
  if (!SplitHostPort(rest, proxy.host, port) || proxy.host.empty()) {
    return BadProxy(variable, "no host, or a port that is not a number from 1 to 65535");
  }
  proxy.port = port.value_or(80);
  return proxy;
}

absl::StatusOr<ProxyConfig::Bypass> ProxyConfig::ParseBypass(absl::string_view entry) {
  Bypass bypass;
  bypass.text = std::string(entry);
  std::string host;
  absl::string_view body = entry;
  // A bare IPv6 address or CIDR has several ':' and no port.
  if (!absl::StartsWith(body, "[") && body.find(':') != body.rfind(':')) {
    host = std::string(body);
  } else if (!SplitHostPort(body, host, bypass.port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid NO_PROXY entry '", entry, "': bad port"));
  }
  absl::string_view address = host;
  std::optional<unsigned> prefix;
  if (const size_t slash = address.find('/'); slash != absl::string_view::npos) {
    unsigned bits = 0;
    if (!absl::SimpleAtoi(address.substr(slash + 1), &bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid NO_PROXY entry '", entry, "': bad prefix length"));
    }
    prefix = bits;
    address = address.substr(0, slash);
  }
  boost::system::error_code ec;
  const ip::address parsed = ip::make_address(std::string(address), ec);
  if (!ec) {
    const unsigned max = parsed.is_v4() ? 32 : 128;
    if (prefix.value_or(max) > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid NO_PROXY entry '", entry, "': prefix longer than ", max));
    }
    bypass.network = parsed;
    bypass.prefix = prefix.value_or(max);
    return bypass;
  }
  absl::string_view domain = host;
  if (!absl::ConsumePrefix(&domain, "*.")) absl::ConsumePrefix(&domain, ".");
  if (domain.empty() || prefix.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid NO_PROXY entry '", entry, "': not a host name, IP address or CIDR"));
  }
  bypass.domain = absl::AsciiStrToLower(domain);
  return bypass;
}

absl::StatusOr<ProxyConfig> ProxyConfig::Make(absl::string_view http_proxy,
                                              absl::string_view https_proxy,
                                              absl::string_view no_proxy) {
  ProxyConfig config;
  if (!absl::StripAsciiWhitespace(http_proxy).empty()) {
    absl::StatusOr<HttpProxy> proxy = ParseProxy("HTTP_PROXY", http_proxy);
    if (!proxy.ok()) return proxy.status();
    config.http_ = *std::move(proxy);
  }
  if (!absl::StripAsciiWhitespace(https_proxy).empty()) {
    absl::StatusOr<HttpProxy> proxy = ParseProxy("HTTPS_PROXY", https_proxy);
    if (!proxy.ok()) return proxy.status();
    config.https_ = *std::move(proxy);
  }
  for (absl::string_view entry : absl::StrSplit(no_proxy, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry == "*") {
      config.bypass_all_ = true;
      continue;
    }
    absl::StatusOr<Bypass> bypass = ParseBypass(entry);
    if (!bypass.ok()) return bypass.status();
    config.bypass_.push_back(*std::move(bypass));
  }
  return config;
}

absl::StatusOr<ProxyConfig> ProxyConfig::FromEnvironment() {
  return Make(Env("http_proxy", "HTTP_PROXY"), Env("https_proxy", "HTTPS_PROXY"),
              Env("no_proxy", "NO_PROXY"));
}

const HttpProxy* ProxyConfig::For(bool tls, absl::string_view host, uint16_t port) const {
  const std::optional<HttpProxy>& proxy = tls ? https_ : http_;
  if (!proxy.has_value() || Bypassed(host, port)) return nullptr;
  return &*proxy;
}

bool ProxyConfig::Bypassed(absl::string_view host, uint16_t port) const {
  if (bypass_all_) return true;
  const std::string lower = absl::AsciiStrToLower(host);
  boost::system::error_code ec;
  const ip::address address = ip::make_address(lower, ec);
  for (const Bypass& b : bypass_) {
    if (b.port.has_value() && *b.port != port) continue;
    if (b.network.has_value()) {
      if (!ec && InNetwork(address, *b.network, b.prefix)) return true;
    } else if (lower == b.domain || absl::EndsWith(lower, absl::StrCat(".", b.domain))) {
      return true;
    }
  }
  return false;
}

std::string ProxyConfig::Describe() const {
  if (empty()) return "";
  std::vector<std::string> parts;
  if (http_.has_value()) parts.push_back(absl::StrCat("http:// via ", http_->HostPort()));
  if (https_.has_value()) parts.push_back(absl::StrCat("https:// via ", https_->HostPort()));
  if (bypass_all_) {
    parts.push_back("not for: *");
  } else if (!bypass_.empty()) {
    std::vector<std::string> texts;
    for (const Bypass& b : bypass_) texts.push_back(b.text);
    parts.push_back(absl::StrCat("not for: ", absl::StrJoin(texts, ",")));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace batchd::core
