// How batchctl reports errors: the formatted RPC error with a hint for the two codes a user can
// fix from the command line, and "batchctl: <message>" for everything else.
#include "client/batchctl/command_context.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "client/format/error_format.h"

namespace batchd::client {
namespace {

class CommandContextTest : public ::testing::Test {
 protected:
  CommandContextTest() { command_line_.address = "db-host:7000"; }

  CommandContext Context() {
    return CommandContext{command_line_, client_, channel_, in_, out_, err_};
  }

  CommandLine command_line_;
  // Never called: the reports only print.
  const BatchClient client_{grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
                            CallTimeouts{}};
  const ChannelOptions channel_;
  std::istringstream in_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CommandContextTest, AnUnreachableDaemonIsReportedWithItsAddress) {
  const grpc::Status status(grpc::StatusCode::UNAVAILABLE, "failed to connect");
  EXPECT_EQ(ReportRpcError(Context(), status), kExitFailure);
  EXPECT_EQ(err_.str(), FormatRpcError(status) + "  (is batchd running at db-host:7000?)\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandContextTest, AMissingTokenIsReportedWithWhereToGiveIt) {
  const grpc::Status status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token");
  EXPECT_EQ(ReportRpcError(Context(), status), kExitFailure);
  EXPECT_EQ(err_.str(),
            FormatRpcError(status) +
                "  (batchd wants a bearer token: --token-file or $BATCHD_TOKEN_FILE)\n");
}

TEST_F(CommandContextTest, OtherCodesGetNoHint) {
  for (const grpc::StatusCode code :
       {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::INVALID_ARGUMENT,
        grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    err_.str("");
    const grpc::Status status(code, "it went wrong");
    EXPECT_EQ(ReportRpcError(Context(), status), kExitFailure);
    EXPECT_EQ(err_.str(), FormatRpcError(status)) << code;
  }
}

TEST_F(CommandContextTest, OtherErrorsArePrefixedWithTheProgramName) {
  EXPECT_EQ(ReportError(Context(), absl::NotFoundError("batch.json: no such file")), kExitFailure);
  EXPECT_EQ(err_.str(), "batchctl: batch.json: no such file\n");
  EXPECT_EQ(out_.str(), "");
}

}  // namespace
}  // namespace batchd::client
