#include "server/flags/listen_address.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

TEST(ParseListenAddressTest, TcpForms) {
  absl::StatusOr<ListenAddress> v4 = ParseListenAddress("127.0.0.1:50051");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->kind, ListenAddress::Kind::kTcp);
  EXPECT_EQ(v4->host, "127.0.0.1");
  absl::StatusOr<ListenAddress> v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  absl::StatusOr<ListenAddress> any = ParseListenAddress(":50051");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->host, "");
}

TEST(ParseListenAddressTest, UnixForms) {
  for (const char* listen : {"unix:/run/batchd.sock", "unix:///run/batchd.sock"}) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
    ASSERT_TRUE(address.ok()) << address.status();
    EXPECT_EQ(address->kind, ListenAddress::Kind::kUnix) << listen;
    EXPECT_EQ(address->unix_path, "/run/batchd.sock") << listen;
  }
  absl::StatusOr<ListenAddress> relative = ParseListenAddress("unix:batchd.sock");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative->unix_path, "batchd.sock");
  absl::StatusOr<ListenAddress> abstract = ParseListenAddress("unix-abstract:batchd");
  ASSERT_TRUE(abstract.ok());
  EXPECT_EQ(abstract->kind, ListenAddress::Kind::kUnixAbstract);
}

TEST(ParseListenAddressTest, RejectsWhatGrpcCannotBind) {
  const std::pair<const char*, const char*> cases[] = {
      {"127.0.0.1", "missing port"},
      {"127.0.0.1:http", "port must be 0-65535"},
      {"127.0.0.1:65536", "port must be 0-65535"},
      {"127.0.0.1:-1", "port must be 0-65535"},
      {"::1:50051", "an IPv6 address needs brackets"},
      {"[::1:50051", "unclosed '['"},
      {"[::1]50051", "missing port"},
      {"unix:", "empty socket path"},
  };
  for (const auto& [listen, why] : cases) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_EQ(address.status().message(),
              absl::StrCat("invalid --listen '", listen, "': ", why,
                           " (expected host:port, [ipv6]:port or unix:/path)"));
  }
}

TEST(IsLoopbackHostTest, LoopbackRangeAndLocalhost) {
  for (const char* host :
       {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "localhost", "LocalHost"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::ffff:10.0.0.1",
                           "localhost.example", "my-host", "127.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLocalOnlyTest, UnixSocketsAreLocal) {
  EXPECT_TRUE(IsLocalOnly(*ParseListenAddress("unix:/tmp/x.sock")));
  EXPECT_TRUE(IsLocalOnly(*ParseListenAddress("unix-abstract:x")));
  EXPECT_TRUE(IsLocalOnly(*ParseListenAddress("[::1]:1")));
  EXPECT_FALSE(IsLocalOnly(*ParseListenAddress("[::]:1")));
  EXPECT_FALSE(IsLocalOnly(*ParseListenAddress("0.0.0.0:1")));
}

class PrepareUnixSocketPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = absl::StrCat(::testing::TempDir(), "listen-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/s.sock";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  // A bound socket at path_, listening when `listen`; returns its fd.
  int BindSocket(bool listen) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    if (listen) {
      EXPECT_EQ(::listen(fd, 1), 0);
    }
    return fd;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(PrepareUnixSocketPathTest, NothingThereIsFine) {
  EXPECT_TRUE(PrepareUnixSocketPath(path_).ok());
}

TEST_F(PrepareUnixSocketPathTest, StaleSocketIsRemoved) {
  close(BindSocket(/*listen=*/false));
  ASSERT_EQ(access(path_.c_str(), F_OK), 0);
  EXPECT_TRUE(PrepareUnixSocketPath(path_).ok());
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

TEST_F(PrepareUnixSocketPathTest, LiveSocketIsKept) {
  const int fd = BindSocket(/*listen=*/true);
  const absl::Status status = PrepareUnixSocketPath(path_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "another process is serving on this socket");
  EXPECT_EQ(access(path_.c_str(), F_OK), 0);
  close(fd);
}

TEST_F(PrepareUnixSocketPathTest, RegularFileIsKept) {
  std::ofstream(path_) << "data";
  const absl::Status status = PrepareUnixSocketPath(path_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "exists and is not a socket; refusing to replace it");
  EXPECT_EQ(access(path_.c_str(), F_OK), 0);
}

TEST_F(PrepareUnixSocketPathTest, OverlongPathIsInvalid) {
  EXPECT_EQ(PrepareUnixSocketPath("/" + std::string(200, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace batchd::server
