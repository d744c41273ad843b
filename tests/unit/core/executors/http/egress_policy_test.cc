// The http executor's egress policy: the built-in denials of link-local and cloud metadata
// addresses, --http-deny by CIDR, address, name, *.domain and port, --http-allow as an
// allowlist that can also lift a built-in denial, IPv4-mapped IPv6 addresses, and bad rules
// refused naming the rule and its flag.
#include "core/executors/http/egress_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace ip = boost::asio::ip;
using ::testing::HasSubstr;

constexpr char kBuiltin[] =
    "(denied by default: link-local and cloud metadata addresses; --http-allow can name it)";

EgressPolicy Policy(std::vector<std::string> deny, std::vector<std::string> allow = {}) {
  absl::StatusOr<EgressPolicy> policy = EgressPolicy::Make(deny, allow);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *std::move(policy) : EgressPolicy();
}

std::string Check(const EgressPolicy& policy, const char* host, const char* address,
                  uint16_t port = 80) {
  return policy.CheckAddress(host, ip::make_address(address), port);
}

TEST(EgressPolicyTest, LinkLocalAndMetadataAddressesAreDeniedByDefault) {
  const EgressPolicy policy;
  EXPECT_EQ(
      Check(policy, "169.254.169.254", "169.254.169.254"),
      std::string("egress to 169.254.169.254:80 is denied by rule '169.254.0.0/16' ") + kBuiltin);
  EXPECT_EQ(Check(policy, "metadata.example", "169.254.10.1", 8080),
            std::string("egress to metadata.example:8080 (resolved to 169.254.10.1) is denied by "
                        "rule '169.254.0.0/16' ") +
                kBuiltin);
  EXPECT_THAT(Check(policy, "h", "fe80::1"), HasSubstr("rule 'fe80::/10'"));
  EXPECT_THAT(Check(policy, "h", "fd00:ec2::254"), HasSubstr("rule 'fd00:ec2::254'"));
  EXPECT_THAT(Check(policy, "h", "100.100.100.200"), HasSubstr("rule '100.100.100.200'"));
  EXPECT_THAT(Check(policy, "h", "::ffff:169.254.169.254"), HasSubstr("rule '169.254.0.0/16'"));
  for (const char* allowed : {"127.0.0.1", "10.1.2.3", "8.8.8.8", "::1", "2001:db8::1"}) {
    EXPECT_EQ(Check(policy, "h", allowed), "") << allowed;
  }
  EXPECT_EQ(policy.CheckHost("example.com", 443), "");
}

TEST(EgressPolicyTest, DenyRulesMatchNetworksAddressesNamesDomainsAndPorts) {
  const EgressPolicy policy = Policy({"10.0.0.0/8", "192.168.1.7", "db.example.com", "*.internal",
                                      "127.0.0.1:22", "[::1]:6379", "fc00::/7"});
  EXPECT_EQ(Check(policy, "h", "10.200.0.1"),
            "egress to h:80 (resolved to 10.200.0.1) is denied by rule '10.0.0.0/8' "
            "(--http-deny)");
  EXPECT_EQ(Check(policy, "h", "11.0.0.1"), "");
  EXPECT_NE(Check(policy, "h", "192.168.1.7"), "");
  EXPECT_EQ(Check(policy, "h", "192.168.1.8"), "");
  EXPECT_EQ(policy.CheckHost("DB.example.com", 443),
            "egress to DB.example.com:443 is denied by rule 'db.example.com' (--http-deny)");
  EXPECT_NE(policy.CheckHost("cache.eu.internal", 80), "");
  EXPECT_EQ(policy.CheckHost("internal", 80), "");  // *.internal: subdomains only
  EXPECT_NE(Check(policy, "127.0.0.1", "127.0.0.1", 22), "");
  EXPECT_EQ(Check(policy, "127.0.0.1", "127.0.0.1", 80), "");
  EXPECT_NE(Check(policy, "h", "::1", 6379), "");
  EXPECT_EQ(Check(policy, "h", "::1", 80), "");
  EXPECT_NE(Check(policy, "h", "fd12::1"), "");
}

TEST(EgressPolicyTest, AllowRulesAreAnAllowlistThatCanLiftABuiltinDenial) {
  const EgressPolicy policy = Policy({}, {"api.example.com", "10.0.0.0/8", "169.254.169.254"});
  EXPECT_EQ(Check(policy, "api.example.com", "93.184.216.34", 443), "");
  EXPECT_EQ(Check(policy, "h", "10.0.0.5"), "");
  EXPECT_EQ(Check(policy, "h", "11.0.0.5"),
            "egress to h:80 (resolved to 11.0.0.5) is not allowed: no --http-allow rule names it");
  EXPECT_EQ(Check(policy, "169.254.169.254", "169.254.169.254"), "");
  EXPECT_NE(Check(policy, "h", "169.254.1.1"), "");  // the rest of link-local stays denied
  // A deny rule wins over an allow rule.
  const EgressPolicy both = Policy({"10.0.0.9"}, {"10.0.0.0/8"});
  EXPECT_NE(Check(both, "h", "10.0.0.9"), "");
  EXPECT_EQ(Check(both, "h", "10.0.0.8"), "");
}

TEST(EgressPolicyTest, BadRulesAreRefusedNamingTheRuleAndTheFlag) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"10.0.0.0/33"},
       "invalid --http-deny rule '10.0.0.0/33': the prefix length must be at most 32"},
      {{"h:0"}, "invalid --http-deny rule 'h:0': the port must be a number from 1 to 65535"},
      {{"[::1"}, "invalid --http-deny rule '[::1': unterminated '['"},
      {{"a*b.example"},
       "invalid --http-deny rule 'a*b.example': '*' is only allowed as '*.domain'"},
      {{"host/8"}, "invalid --http-deny rule 'host/8': a prefix length needs an IP address"},
      {{"bad_name!"}, "invalid --http-deny rule 'bad_name!': not a host name, IP address or CIDR"},
  };
  for (const auto& [deny, message] : cases) {
    const absl::StatusOr<EgressPolicy> policy = EgressPolicy::Make(deny, {});
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << deny[0];
    EXPECT_THAT(std::string(policy.status().message()), ::testing::StartsWith(message));
  }
  EXPECT_THAT(std::string(EgressPolicy::Make({}, {":80"}).status().message()),
              ::testing::StartsWith("invalid --http-allow rule ':80': nothing before the port"));
}

}  // namespace
}  // namespace batchd::core
