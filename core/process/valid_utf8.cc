#include "core/process/valid_utf8.h"

#include <cstdint>

namespace batchd::core {
namespace {

constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Length of the well-formed sequence starting at text[i], or 0 when it is ill-formed. Follows
// the Unicode table of well-formed byte sequences (no overlongs, no surrogates, <= U+10FFFF).
size_t WellFormedLength(absl::string_view text, size_t i) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = at(i);
  if (b0 < 0x80) return 1;
  size_t length = 0;
  uint8_t min1 = 0x80;
  uint8_t max1 = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) min1 = 0xA0;
    if (b0 == 0xED) max1 = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) min1 = 0x90;
    if (b0 == 0xF4) max1 = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (at(i + 1) < min1 || at(i + 1) > max1) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (!IsContinuation(at(i + k))) return 0;
  }
  return length;
}

}  // namespace

std::string ToValidUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    // Copy the longest valid run in one go: the common case is all-ASCII output.
    size_t run_end = i;
    size_t length = 0;
    while (run_end < bytes.size() && (length = WellFormedLength(bytes, run_end)) != 0) {
      run_end += length;
    }
    out.append(bytes.data() + i, run_end - i);
    if (run_end == bytes.size()) break;
    out.append(kReplacement.data(), kReplacement.size());
    // Skip the bad lead byte and the continuation bytes that belong to it.
    i = run_end + 1;
    while (i < bytes.size() && IsContinuation(static_cast<uint8_t>(bytes[i])) && i - run_end < 4) {
      ++i;
    }
  }
  return out;
}

absl::string_view Utf8Tail(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t start = text.size() - max_bytes;
  while (start < text.size() && IsContinuation(static_cast<uint8_t>(text[start]))) ++start;
  return text.substr(start);
}

}  // namespace batchd::core
