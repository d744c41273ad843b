// Where each value of a JSON text sits (line and column), found by path, so errors about a
// config file can point at the offending field: boost::json decodes values but keeps no
// positions. A value built once per text and then only read; safe to share between threads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace batchd::core {

// 1-based; the column counts UTF-8 characters, as editors do.
struct JsonPosition {
  size_t line = 1;
  size_t column = 1;

  bool operator==(const JsonPosition&) const = default;
};

// The position of byte `offset` of `text`.
JsonPosition JsonPositionAt(std::string_view text, size_t offset);

// Paths name values the way error messages do: "" is the root, "limits[0].rates[1].per" a
// member of an element of a member.
class JsonLocations {
 public:
  // `text` must be JSON that boost::json parsed without error; it must outlive this object.
  explicit JsonLocations(std::string_view text);

  // Where the value at `path` starts; where its nearest enclosing value starts when there is
  // no such value (a missing field points at its object).
  JsonPosition ValueOf(std::string_view path) const;
  // Where the member name of `path` starts (its opening quote); else as ValueOf.
  JsonPosition NameOf(std::string_view path) const;
  // The first member name repeated in one object (the repeat's path), which boost::json would
  // silently resolve to the last value.
  const std::optional<std::string>& repeated_member() const { return repeated_member_; }

 private:
  struct Spot {
    size_t name = std::string_view::npos;  // npos: an array element or the root
    size_t value = 0;
  };
  class Scanner;
  const Spot& Find(std::string_view path) const;

  std::string_view text_;
  absl::flat_hash_map<std::string, Spot> spots_;
  std::optional<std::string> repeated_member_;
};

}  // namespace batchd::core
