#include "client/cpp/channel.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace batchd::client {
namespace {

TEST(ResolveTargetTest, AcceptsTcpAndUnixAddresses) {
  EXPECT_EQ(*ResolveTarget("127.0.0.1:50051"), "dns:///127.0.0.1:50051");
  EXPECT_EQ(*ResolveTarget("[::1]:1"), "dns:///[::1]:1");
  EXPECT_EQ(*ResolveTarget("unix:/run/batchd/batchd.sock"), "unix:/run/batchd/batchd.sock");
  EXPECT_EQ(*ResolveTarget("unix:///run/batchd.sock"), "unix:///run/batchd.sock");
  EXPECT_EQ(ResolveTarget("unix:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveTarget("host").status().code(), absl::StatusCode::kInvalidArgument);
}

class LoadChannelSecurityTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& path : written_) unlink(path.c_str());
  }
  std::string Write(const std::string& name, const std::string& contents) {
    std::string path = absl::StrCat(::testing::TempDir(), "channel-", getpid(), "-", name);
    std::ofstream(path) << contents;
    written_.push_back(path);
    return path;
  }
  std::vector<std::string> written_;
};

TEST_F(LoadChannelSecurityTest, NothingGivenIsPlaintextWithoutToken) {
  absl::StatusOr<ChannelSecurity> security = LoadChannelSecurity({});
  ASSERT_TRUE(security.ok());
  EXPECT_EQ(security->bearer_token, "");
  EXPECT_FALSE(security->tls);
}

TEST_F(LoadChannelSecurityTest, ReadsTokenAndTlsFiles) {
  ChannelSecurityFiles files;
  files.token_file = Write("token", "tok-1\n");
  files.tls_ca_file = Write("ca", "CA PEM");
  files.tls_cert_file = Write("cert", "CERT PEM");
  files.tls_key_file = Write("key", "KEY PEM");
  files.tls_server_name = "batchd.internal";
  absl::StatusOr<ChannelSecurity> security = LoadChannelSecurity(files);
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_EQ(security->bearer_token, "tok-1");
  EXPECT_TRUE(security->tls);
  EXPECT_EQ(security->tls_root_certs_pem, "CA PEM");
  EXPECT_EQ(security->tls_cert_chain_pem, "CERT PEM");
  EXPECT_EQ(security->tls_private_key_pem, "KEY PEM");
  EXPECT_EQ(security->tls_server_name, "batchd.internal");
}

TEST_F(LoadChannelSecurityTest, AnyTlsFlagTurnsTlsOn) {
  ChannelSecurityFiles files;
  files.tls_server_name = "batchd.internal";
  EXPECT_TRUE(LoadChannelSecurity(files)->tls);
}

TEST_F(LoadChannelSecurityTest, RefusesUnusableFilesNamingTheFlag) {
  ChannelSecurityFiles missing;
  missing.token_file = "/nonexistent/token";
  EXPECT_EQ(LoadChannelSecurity(missing).status().message(),
            "cannot read --token-file '/nonexistent/token': No such file or directory");

  ChannelSecurityFiles spaced;
  spaced.token_file = Write("spaced", "two words");
  EXPECT_EQ(LoadChannelSecurity(spaced).status().message(),
            absl::StrCat("--token-file '", spaced.token_file,
                         "': the token must be one line of visible ASCII characters without "
                         "spaces"));

  ChannelSecurityFiles empty;
  empty.tls_ca_file = Write("empty", "\n");
  EXPECT_EQ(LoadChannelSecurity(empty).status().message(),
            absl::StrCat("--tls-ca '", empty.tls_ca_file, "' is empty"));

  ChannelSecurityFiles key_only;
  key_only.tls_key_file = Write("key-only", "KEY");
  EXPECT_EQ(LoadChannelSecurity(key_only).status().message(), "--tls-key needs --tls-cert");
}

TEST(ResolveTargetTest, AcceptsHostPortAndUnixSockets) {
  EXPECT_EQ(ResolveTarget("127.0.0.1:50051").value(), "dns:///127.0.0.1:50051");
  EXPECT_EQ(ResolveTarget("batchd.internal:443").value(), "dns:///batchd.internal:443");
  EXPECT_EQ(ResolveTarget("[::1]:50051").value(), "dns:///[::1]:50051");
  EXPECT_EQ(ResolveTarget("unix:/run/batchd.sock").value(), "unix:/run/batchd.sock");
}

TEST(ResolveTargetTest, RejectsMalformedAddresses) {
  for (const char* address :
       {"localhost", ":50051", "host:0", "host:70000", "host:port", "::1:5", "unix:", ""}) {
    EXPECT_EQ(ResolveTarget(address).status().code(), absl::StatusCode::kInvalidArgument)
        << address;
  }
  EXPECT_EQ(ResolveTarget("localhost").status().message(),
            "invalid address 'localhost': missing port (expected host:port or unix:/path)");
}

}  // namespace
}  // namespace batchd::client
