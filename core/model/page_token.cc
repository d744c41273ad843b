#include "core/model/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace batchd::core {
namespace {

constexpr size_t kTokenBytes = 1 + 8;  // the kind, then the position big-endian

}  // namespace

std::string EncodePageToken(PageKind kind, uint64_t position) {
  std::string raw(kTokenBytes, '\0');
  raw[0] = static_cast<char>(kind);
  for (size_t i = 0; i < 8; ++i) {
    raw[kTokenBytes - 1 - i] = static_cast<char>((position >> (8 * i)) & 0xFF);
  }
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<uint64_t> DecodePageToken(PageKind kind, absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() != kTokenBytes ||
      raw[0] != static_cast<char>(kind) || absl::WebSafeBase64Escape(raw) != token) {
    return absl::InvalidArgumentError(
        "page_token is not a next_page_token of this listing (pass it back unchanged)");
  }
  uint64_t position = 0;
  for (size_t i = 1; i < kTokenBytes; ++i) {
    position = (position << 8) | static_cast<unsigned char>(raw[i]);
  }
  return position;
}

}  // namespace batchd::core
