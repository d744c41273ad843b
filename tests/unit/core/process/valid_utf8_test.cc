#include "core/process/valid_utf8.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

struct Case {
  std::string bytes;
  std::string valid;
};

TEST(ToValidUtf8Test, KeepsWellFormedTextByteForByte) {
  for (const std::string& text :
       {std::string(), std::string("plain ascii\n\t"), std::string("a\0b", 3),
        std::string("caf\xC3\xA9"),                          // U+00E9, two bytes
        std::string("\xE2\x82\xAC"),                         // U+20AC, three bytes
        std::string("\xF0\x9F\x98\x80"),                     // U+1F600, four bytes
        std::string("\xC2\x80\xDF\xBF"),                     // the two-byte range's ends
        std::string("\xE0\xA0\x80\xED\x9F\xBF"),             // U+0800, U+D7FF
        std::string("\xEE\x80\x80\xEF\xBF\xBF"),             // U+E000, U+FFFF
        std::string("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF")}) {  // U+10000, U+10FFFF
    EXPECT_EQ(ToValidUtf8(text), text);
  }
}

TEST(ToValidUtf8Test, ReplacesEachIllFormedSequenceWithOneReplacementCharacter) {
  const std::string r = kReplacement;
  const Case cases[] = {
      {"\x80", r},  // stray continuation byte
      {"a\xBFz", "a" + r + "z"},
      {"\xFF", r},  // never valid
      {"\xFE!", r + "!"},
      {"\xC0\xAF", r},          // overlong '/'
      {"\xC1\xBF", r},          // overlong
      {"\xE0\x80\xAF", r},      // overlong three-byte form
      {"\xF0\x80\x80\xAF", r},  // overlong four-byte form
      {"\xED\xA0\x80", r},      // surrogate U+D800
      {"\xED\xBF\xBF", r},      // surrogate U+DFFF
      {"\xF4\x90\x80\x80", r},  // U+110000, above the last code point
      {"\xF5\x80\x80\x80", r},  // lead byte beyond U+10FFFF
      {"\xC3", r},              // cut short at the end
      {"ok\xE2\x82", "ok" + r},
      {"\xF0\x9F\x98", r},
      {"\xC3z", r + "z"},  // cut short by an ASCII byte, which is kept
      {"\xE2\x82z", r + "z"},
      {"\xC3\xA9\xFF\xC3\xA9", "\xC3\xA9" + r + "\xC3\xA9"},
      {"\xFF\xFF", r + r},  // two bad lead bytes: two replacements
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ToValidUtf8(c.bytes), c.valid) << absl::CEscape(c.bytes);
  }
}

TEST(ToValidUtf8Test, SkipsAtMostThreeContinuationBytesAfterABadLead) {
  const std::string r = kReplacement;
  // The bad lead and up to three continuation bytes after it make one replacement; a fourth
  // continuation byte is a stray one of its own.
  EXPECT_EQ(ToValidUtf8("\xF8\x80\x80\x80"), r);
  EXPECT_EQ(ToValidUtf8("\xF8\x80\x80\x80\x80"), r + r);
  EXPECT_EQ(ToValidUtf8("\x80\x80"), r);
}

TEST(ToValidUtf8Test, OutputIsAlwaysValid) {
  const std::string once = ToValidUtf8("x\xC3\x28\xA0\xA1\xE2\x28\xA1\xF0\x28\x8C\xBC y");
  EXPECT_EQ(ToValidUtf8(once), once);
}

TEST(Utf8TailTest, WholeTextWhenItFits) {
  EXPECT_EQ(Utf8Tail("", 0), "");
  EXPECT_EQ(Utf8Tail("abc", 3), "abc");
  EXPECT_EQ(Utf8Tail("abc", 10), "abc");
}

TEST(Utf8TailTest, LastBytesOfAsciiText) {
  EXPECT_EQ(Utf8Tail("abcdef", 2), "ef");
  EXPECT_EQ(Utf8Tail("abcdef", 0), "");
}

TEST(Utf8TailTest, StartsOnACharacterBoundary) {
  const absl::string_view text = "a\xC3\xA9\xE2\x82\xAC";  // a, é (2 bytes), € (3 bytes)
  EXPECT_EQ(Utf8Tail(text, 5), "\xC3\xA9\xE2\x82\xAC");
  // Four bytes would start inside é: the tail is shorter, never a split character.
  EXPECT_EQ(Utf8Tail(text, 4), "\xE2\x82\xAC");
  EXPECT_EQ(Utf8Tail(text, 3), "\xE2\x82\xAC");
  EXPECT_EQ(Utf8Tail(text, 2), "");
  EXPECT_EQ(Utf8Tail(text, 1), "");
  // The tail is a view into the text itself.
  EXPECT_EQ(Utf8Tail(text, 3).data(), text.data() + 3);
}

}  // namespace
}  // namespace batchd::core
