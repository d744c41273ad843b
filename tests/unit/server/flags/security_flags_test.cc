#include "server/flags/security_flags.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

TEST(ParseSocketModeTest, OctalUpTo0777) {
  EXPECT_EQ(*ParseSocketMode("0660"), 0660u);
  EXPECT_EQ(*ParseSocketMode("600"), 0600u);
  EXPECT_EQ(*ParseSocketMode("0"), 0u);
  EXPECT_EQ(*ParseSocketMode("0777"), 0777u);
  for (const char* text : {"", "8", "0778", "1777", "04755", "rw-", "0x1ff", "00660"}) {
    absl::StatusOr<uint32_t> mode = ParseSocketMode(text);
    EXPECT_EQ(mode.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(mode.status().message(), absl::StrCat("invalid --unix-socket-mode '", text,
                                                    "': expected octal permissions such as 0660"));
  }
}

class ReadBearerTokenTest : public ::testing::Test {
 protected:
  void TearDown() override { unlink(path_.c_str()); }
  const std::string& Write(const std::string& contents) {
    std::ofstream(path_) << contents;
    return path_;
  }
  std::string path_ = absl::StrCat(::testing::TempDir(), "token-", getpid());
};

TEST_F(ReadBearerTokenTest, StripsTheTrailingNewline) {
  EXPECT_EQ(*ReadBearerToken(Write("abc.DEF-123_~+/=\n")), "abc.DEF-123_~+/=");
  EXPECT_EQ(*ReadBearerToken(Write("  tok\r\n\n")), "tok");
}

TEST_F(ReadBearerTokenTest, RefusesEmptyAndMultiWordTokens) {
  absl::StatusOr<std::string> empty = ReadBearerToken(Write(" \n"));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), absl::StrCat("--auth-token-file '", path_, "' is empty"));
  for (const char* bad : {"two words", "line\nline", "tab\there", "caf\xc3\xa9"}) {
    absl::StatusOr<std::string> token = ReadBearerToken(Write(bad));
    EXPECT_EQ(token.status().message(),
              absl::StrCat("--auth-token-file '", path_,
                           "': the token must be one line of visible ASCII characters without "
                           "spaces"))
        << bad;
  }
}

TEST_F(ReadBearerTokenTest, MissingFileNamesTheFlag) {
  absl::StatusOr<std::string> token = ReadBearerToken("/nonexistent/token");
  EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(token.status().message(),
            "cannot read --auth-token-file '/nonexistent/token': No such file or directory");
}

TEST(CheckListenSecurityTest, LocalAddressesNeedNothing) {
  for (const char* listen : {"127.0.0.1:0", "localhost:50051", "[::1]:1", "unix:/tmp/b.sock"}) {
    absl::StatusOr<std::vector<std::string>> warnings = CheckListenSecurity(listen, {});
    ASSERT_TRUE(warnings.ok()) << listen << ": " << warnings.status();
    EXPECT_TRUE(warnings->empty()) << listen;
  }
}

TEST(CheckListenSecurityTest, RemoteNeedsTokenTlsOrExplicitConsent) {
  absl::StatusOr<std::vector<std::string>> refused = CheckListenSecurity("0.0.0.0:50051", {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "refusing to listen on 0.0.0.0:50051 (beyond loopback) without --auth-token-file or "
            "--tls-cert: anyone who reaches it could run tasks. Add one, or pass "
            "--allow-insecure-remote on a trusted private network");

  SecurityOptions allowed;
  allowed.allow_insecure_remote = true;
  absl::StatusOr<std::vector<std::string>> warned = CheckListenSecurity("0.0.0.0:1", allowed);
  ASSERT_TRUE(warned.ok());
  EXPECT_EQ(*warned,
            std::vector<std::string>{
                "listening on 0.0.0.0:1 without a token or TLS (--allow-insecure-remote)"});

  SecurityOptions token;
  token.bearer_token = "t";
  absl::StatusOr<std::vector<std::string>> clear = CheckListenSecurity("[::]:1", token);
  ASSERT_TRUE(clear.ok());
  EXPECT_EQ(*clear, std::vector<std::string>{
                        "listening on [::]:1 without TLS: the bearer token travels in clear text"});

  SecurityOptions tls;
  tls.tls = TlsOptions{};
  absl::StatusOr<std::vector<std::string>> quiet = CheckListenSecurity("10.1.2.3:1", tls);
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->empty());
}

}  // namespace
}  // namespace batchd::server
