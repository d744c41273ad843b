#include "server/observability/metrics_http_server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using tcp = boost::asio::ip::tcp;

// Every socket read in these tests gives up after this long, so a server that never answers
// fails the test instead of hanging it.
constexpr int kReadTimeoutSeconds = 30;

uint16_t PortOf(const std::string& address) {
  uint32_t port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) << address;
  return static_cast<uint16_t>(port);
}

tcp::socket Connect(boost::asio::io_context& io, uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  const timeval timeout{kReadTimeoutSeconds, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return socket;
}

// Sends `request` as is and returns every byte the server writes before it closes.
std::string Exchange(uint16_t port, absl::string_view request) {
  boost::asio::io_context io;
  tcp::socket socket = Connect(io, port);
  boost::asio::write(socket, boost::asio::buffer(request.data(), request.size()));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  EXPECT_EQ(ec, boost::asio::error::eof) << ec.message();
  return response;
}

struct Response {
  std::string status_line;
  std::string headers;  // the header lines, each ending in \r\n
  std::string body;
};

Response Parse(const std::string& raw) {
  Response response;
  const size_t end_of_status = raw.find("\r\n");
  const size_t end_of_headers = raw.find("\r\n\r\n");
  if (end_of_status == std::string::npos || end_of_headers == std::string::npos) {
    ADD_FAILURE() << "not an HTTP response: '" << raw << "'";
    return response;
  }
  response.status_line = raw.substr(0, end_of_status);
  response.headers = raw.substr(end_of_status + 2, end_of_headers + 2 - (end_of_status + 2));
  response.body = raw.substr(end_of_headers + 4);
  return response;
}

std::string Request(absl::string_view method, absl::string_view target) {
  return absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: test\r\n\r\n");
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start("127.0.0.1:0", [this] {
          const int n = ++renders_;
          return absl::StrCat("batchd_scrape ", n, "\n");
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    port_ = PortOf(server_->address());
  }

  std::atomic<int> renders_{0};
  std::unique_ptr<MetricsHttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(MetricsHttpServerTest, ReportsTheLoopbackAddressAndPortItBound) {
  EXPECT_NE(port_, 0);
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", port_));
}

TEST_F(MetricsHttpServerTest, GetMetricsAnswersTheRenderedTextAsPrometheusText) {
  const Response response = Parse(Exchange(port_, Request("GET", "/metrics")));
  EXPECT_EQ(response.status_line, "HTTP/1.1 200 OK");
  EXPECT_THAT(response.headers,
              HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(response.headers, HasSubstr("Content-Length: 16\r\n"));
  EXPECT_THAT(response.headers, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(response.body, "batchd_scrape 1\n");
  EXPECT_EQ(renders_, 1);
}

TEST_F(MetricsHttpServerTest, RendersAfreshForEveryScrape) {
  EXPECT_EQ(Parse(Exchange(port_, Request("GET", "/metrics"))).body, "batchd_scrape 1\n");
  EXPECT_EQ(Parse(Exchange(port_, Request("GET", "/metrics"))).body, "batchd_scrape 2\n");
  EXPECT_EQ(Parse(Exchange(port_, Request("GET", "/metrics"))).body, "batchd_scrape 3\n");
  EXPECT_EQ(renders_, 3);
}

TEST_F(MetricsHttpServerTest, AnswersHttp10InKind) {
  const Response response = Parse(Exchange(port_, "GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n"));
  EXPECT_EQ(response.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(response.body, "batchd_scrape 1\n");
}

TEST_F(MetricsHttpServerTest, OtherPathsAreNotFoundWithoutRendering) {
  for (const char* target : {"/", "/metrics/", "/metrics?x=1", "/healthz"}) {
    const Response response = Parse(Exchange(port_, Request("GET", target)));
    EXPECT_EQ(response.status_line, "HTTP/1.1 404 Not Found") << target;
    EXPECT_EQ(response.body, "not found: try /metrics\n") << target;
  }
  EXPECT_EQ(renders_, 0);
}

TEST_F(MetricsHttpServerTest, OtherMethodsAreNotAllowedAndNameTheAllowedOnes) {
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    const Response response = Parse(Exchange(port_, Request(method, "/metrics")));
    EXPECT_EQ(response.status_line, "HTTP/1.1 405 Method Not Allowed") << method;
    EXPECT_THAT(response.headers, HasSubstr("Allow: GET, HEAD\r\n")) << method;
    EXPECT_EQ(response.body, "only GET /metrics is served\n") << method;
  }
  EXPECT_EQ(renders_, 0);
}

// RFC 9110 §9.3.2: a HEAD response has GET's headers and no content.
TEST_F(MetricsHttpServerTest, HeadMetricsAnswersTheHeadersWithoutTheBody) {
  const Response response = Parse(Exchange(port_, Request("HEAD", "/metrics")));
  EXPECT_EQ(response.status_line, "HTTP/1.1 200 OK");
  EXPECT_THAT(response.headers, HasSubstr("Content-Length: 16\r\n"));
  EXPECT_EQ(response.body, "");
}

TEST_F(MetricsHttpServerTest, ClosesAMalformedRequestWithoutAnswering) {
  EXPECT_EQ(Exchange(port_, "this is not HTTP\r\n\r\n"), "");
  // The server still serves the next scrape.
  EXPECT_EQ(Parse(Exchange(port_, Request("GET", "/metrics"))).body, "batchd_scrape 1\n");
}

TEST_F(MetricsHttpServerTest, ServesOthersWhileAClientHoldsAConnectionIdle) {
  boost::asio::io_context io;
  tcp::socket idle = Connect(io, port_);
  EXPECT_EQ(Parse(Exchange(port_, Request("GET", "/metrics"))).status_line, "HTTP/1.1 200 OK");
}

TEST_F(MetricsHttpServerTest, StopsPromptlyWithAnIdleConnectionOpen) {
  boost::asio::io_context io;
  tcp::socket idle = Connect(io, port_);
  server_.reset();  // does not wait out the 10 s I/O timeout (ctest's timeout would catch it)
  // Closed without an answer: a FIN once accepted, a reset while still in the listen backlog.
  std::string rest;
  boost::system::error_code ec;
  boost::asio::read(idle, boost::asio::dynamic_buffer(rest), ec);
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      << ec.message();
  EXPECT_EQ(rest, "");
}

TEST(MetricsHttpServerStartTest, LocalhostBindsTheIpv4Loopback) {
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("localhost:0", [] { return std::string("x\n"); });
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->address(), StartsWith("127.0.0.1:"));
  const Response response =
      Parse(Exchange(PortOf((*server)->address()), Request("GET", "/metrics")));
  EXPECT_EQ(response.body, "x\n");
}

TEST(MetricsHttpServerStartTest, BracketsAnIpv6AddressItBound) {
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("[::1]:0", [] { return std::string(); });
  if (absl::IsUnavailable(server.status())) GTEST_SKIP() << "no IPv6 loopback: " << server.status();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string& address = (*server)->address();
  EXPECT_THAT(address, StartsWith("[::1]:"));
  EXPECT_NE(PortOf(address), 0);
}

TEST(MetricsHttpServerStartTest, RefusesAListenAddressThatIsNotHostColonPort) {
  for (const char* listen :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:-1", "127.0.0.1:65536"}) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start(listen, [] { return std::string(); });
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_EQ(server.status().message(),
              absl::StrCat("invalid --metrics-listen '", listen, "': expected host:port"));
  }
}

TEST(MetricsHttpServerStartTest, RefusesAHostNameOtherThanLocalhost) {
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("metrics.example:9090", [] { return std::string(); });
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message(),
            "invalid --metrics-listen 'metrics.example:9090': host must be an IP address or "
            "localhost");
}

TEST(MetricsHttpServerStartTest, APortInUseIsUnavailable) {
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> first =
      MetricsHttpServer::Start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string listen = (*first)->address();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> second =
      MetricsHttpServer::Start(listen, [] { return std::string(); });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              StartsWith(absl::StrCat("cannot serve metrics on ", listen, ": ")));
}

}  // namespace
}  // namespace batchd::server
