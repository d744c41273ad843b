// Page tokens: positions round-trip, tokens of another listing and garbage are refused.
#include "core/model/page_token.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace batchd::core {
namespace {

TEST(PageTokenTest, RoundTrips) {
  for (const uint64_t position : {uint64_t{0}, uint64_t{1}, uint64_t{9999}, UINT64_MAX}) {
    const std::string token = EncodePageToken(PageKind::kBatches, position);
    EXPECT_EQ(DecodePageToken(PageKind::kBatches, token).value(), position) << token;
  }
  EXPECT_EQ(DecodePageToken(PageKind::kTasks, EncodePageToken(PageKind::kTasks, 42)).value(), 42u);
}

TEST(PageTokenTest, IsUrlSafe) {
  const std::string token = EncodePageToken(PageKind::kTasks, UINT64_MAX);
  EXPECT_EQ(token.find_first_of("+/= "), std::string::npos) << token;
}

TEST(PageTokenTest, RefusesTokensItDidNotMake) {
  const std::string tasks = EncodePageToken(PageKind::kTasks, 7);
  for (const std::string& bad : {std::string("garbage!"), std::string("AAAA"), tasks + "A",
                                 tasks.substr(1), std::string("7")}) {
    absl::StatusOr<uint64_t> decoded = DecodePageToken(PageKind::kTasks, bad);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // A token of the other listing.
  EXPECT_EQ(DecodePageToken(PageKind::kBatches, tasks).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken(PageKind::kBatches, tasks).status().message(),
            "page_token is not a next_page_token of this listing (pass it back unchanged)");
}

}  // namespace
}  // namespace batchd::core
