#include "server/rpc/auth_check.h"

#include <string>

#include "gtest/gtest.h"

namespace batchd::server {
namespace {

TEST(AuthCheckTest, WithoutATokenEverythingPasses) {
  const AuthCheck open("");
  EXPECT_FALSE(open.required());
  EXPECT_TRUE(open.Accepts(std::nullopt));
  EXPECT_TRUE(open.Accepts("Bearer anything"));
}

TEST(AuthCheckTest, AcceptsOnlyTheBearerToken) {
  const AuthCheck check("s3cret");
  EXPECT_TRUE(check.required());
  EXPECT_TRUE(check.Accepts("Bearer s3cret"));
  EXPECT_TRUE(check.Accepts("bearer s3cret")) << "the scheme is case-insensitive";
  EXPECT_TRUE(check.Accepts("BEARER   s3cret ")) << "surrounding whitespace";
  for (const char* wrong : {"", "s3cret", "Bearer", "Bearer ", "Bearer s3cre", "Bearer s3cretx",
                            "Bearer S3CRET", "Basic s3cret", "Bearers3cret", "Bearer s3cret x"}) {
    EXPECT_FALSE(check.Accepts(wrong)) << "'" << wrong << "'";
  }
  EXPECT_FALSE(check.Accepts(std::nullopt));
}

}  // namespace
}  // namespace batchd::server
