// One table of an enum's names, written once beside the enum: Name(value) and Parse(name) read
// it both ways, Choices() lists it for messages. Constant data and pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace batchd::core {

template <typename Enum>
struct EnumName {
  Enum value;
  const char* name;  // a string literal: a NUL-terminated name callers may keep
};

template <typename Enum, size_t N>
class EnumNames {
 public:
  // `unknown` is what Name() says of a value missing from `rows` (a number cast to the enum).
  constexpr EnumNames(const EnumName<Enum> (&rows)[N], const char* unknown)
      : rows_(std::to_array(rows)), unknown_(unknown) {}

  constexpr const char* Name(Enum value) const {
    for (const EnumName<Enum>& row : rows_) {
      if (row.value == value) return row.name;
    }
    return unknown_;
  }

  // Exact, case-sensitive match; nullopt for a name not in the table.
  constexpr std::optional<Enum> Parse(std::string_view name) const {
    for (const EnumName<Enum>& row : rows_) {
      if (name == row.name) return row.value;
    }
    return std::nullopt;
  }

  // The names in table order as a message lists choices: "none, normal or full".
  std::string Choices() const {
    std::string out;
    for (size_t i = 0; i < N; ++i) {
      if (i > 0) out += i + 1 == N ? " or " : ", ";
      out += rows_[i].name;
    }
    return out;
  }

  constexpr auto begin() const { return rows_.begin(); }
  constexpr auto end() const { return rows_.end(); }
  static constexpr size_t size() { return N; }

 private:
  std::array<EnumName<Enum>, N> rows_;
  const char* unknown_;
};

// Spells the enum once and counts the rows:
//   inline constexpr auto kDurabilityNames = MakeEnumNames<Durability>(
//       {{Durability::kNone, "none"}, {Durability::kFull, "full"}}, "?");
template <typename Enum, size_t N>
constexpr EnumNames<Enum, N> MakeEnumNames(const EnumName<Enum> (&rows)[N], const char* unknown) {
  return EnumNames<Enum, N>(rows, unknown);
}

}  // namespace batchd::core
