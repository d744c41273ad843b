// Makes arbitrary bytes (a program's output) safe to carry as a JSON / protobuf string, whose
// serialization rejects invalid UTF-8. Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace batchd::core {

// `bytes` with every ill-formed UTF-8 sequence (stray continuation bytes, overlong forms,
// surrogates, code points above U+10FFFF, sequences cut short) replaced by U+FFFD.
std::string ToValidUtf8(absl::string_view bytes);

// The last at most `max_bytes` bytes of valid UTF-8 `text`, starting on a character boundary.
absl::string_view Utf8Tail(absl::string_view text, size_t max_bytes);

}  // namespace batchd::core
