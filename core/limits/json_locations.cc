#include "core/limits/json_locations.h"

#include <boost/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace batchd::core {

JsonPosition JsonPositionAt(std::string_view text, size_t offset) {
  JsonPosition at;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++at.line;
      at.column = 1;
    } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++at.column;
    }
  }
  return at;
}

// Walks text that is known to be valid JSON, so it only needs to find where tokens start and
// end; boost::json did the checking and does the decoding. Recursion is bounded by boost::json's
// nesting limit, which the text already passed.
class JsonLocations::Scanner {
 public:
  Scanner(std::string_view text, JsonLocations& out) : text_(text), out_(out) {}

  void Value(const std::string& path, size_t name) {
    SkipSpace();
    out_.spots_.insert_or_assign(path, Spot{name, i_});
    if (i_ >= text_.size()) return;
    switch (text_[i_]) {
      case '{':
        Object(path);
        break;
      case '[':
        Array(path);
        break;
      case '"':
        String();
        break;
      default:  // a number, true, false or null
        while (i_ < text_.size() &&
               std::string_view(",]} \t\r\n").find(text_[i_]) == std::string_view::npos) {
          ++i_;
        }
    }
  }

 private:
  void SkipSpace() {
    while (i_ < text_.size() &&
           std::string_view(" \t\r\n").find(text_[i_]) != std::string_view::npos) {
      ++i_;
    }
  }
  // Skips a string token and returns it with its quotes.
  std::string_view String() {
    const size_t start = i_++;
    while (i_ < text_.size() && text_[i_] != '"') i_ += text_[i_] == '\\' ? 2 : 1;
    ++i_;
    return text_.substr(start, i_ - start);
  }
  static std::string Decode(std::string_view token) {
    if (token.find('\\') == std::string_view::npos) {
      return std::string(token.substr(1, token.size() - 2));
    }
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(token, ec);
    return ec ? std::string(token) : std::string(v.as_string());
  }
  void Object(const std::string& path) {
    ++i_;
    absl::flat_hash_set<std::string> names;
    for (;;) {
      SkipSpace();
      if (i_ >= text_.size() || text_[i_] == '}') break;
      const size_t name_at = i_;
      std::string name = Decode(String());
      const std::string member = path.empty() ? name : absl::StrCat(path, ".", name);
      if (!names.insert(std::move(name)).second && !out_.repeated_member_.has_value()) {
        out_.repeated_member_ = member;
      }
      SkipSpace();
      ++i_;  // ':'
      Value(member, name_at);
      SkipSpace();
      if (i_ < text_.size() && text_[i_] == ',') ++i_;
    }
    ++i_;
  }
  void Array(const std::string& path) {
    ++i_;
    for (size_t n = 0;; ++n) {
      SkipSpace();
      if (i_ >= text_.size() || text_[i_] == ']') break;
      Value(absl::StrCat(path, "[", n, "]"), std::string_view::npos);
      SkipSpace();
      if (i_ < text_.size() && text_[i_] == ',') ++i_;
    }
    ++i_;
  }

  std::string_view text_;
  JsonLocations& out_;
  size_t i_ = 0;
};

JsonLocations::JsonLocations(std::string_view text) : text_(text) {
  Scanner(text, *this).Value("", std::string_view::npos);
}

const JsonLocations::Spot& JsonLocations::Find(std::string_view path) const {
  for (;;) {
    if (auto it = spots_.find(absl::string_view(path.data(), path.size())); it != spots_.end()) {
      return it->second;
    }
    const size_t cut = path.find_last_of(".[");
    if (cut == std::string_view::npos) return spots_.at("");
    path = path.substr(0, cut);
  }
}

JsonPosition JsonLocations::ValueOf(std::string_view path) const {
  return JsonPositionAt(text_, Find(path).value);
}

JsonPosition JsonLocations::NameOf(std::string_view path) const {
  auto it = spots_.find(absl::string_view(path.data(), path.size()));
  if (it == spots_.end() || it->second.name == std::string_view::npos) return ValueOf(path);
  return JsonPositionAt(text_, it->second.name);
}

}  // namespace batchd::core
