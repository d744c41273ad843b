#include "core/limits/limit_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/limits/json_locations.h"
#include "core/model/field_violation.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

constexpr char kPeriodHelp[] = "use second, minute, hour or a duration such as 250ms, 1m";

// What is wrong with a field: its path, where to point, and the whole message (naming the
// path). The file adds where it is; LimitSpecFromJson attaches it as a field violation.
struct Problem {
  std::string path;
  bool at_name = false;  // point at the member's name (an unknown field), not its value
  std::string message;
};
using Check = std::optional<Problem>;

std::string Join(absl::string_view path, absl::string_view name) {
  return path.empty() ? std::string(name) : absl::StrCat(path, ".", name);
}

// `path: ` before a message about a member of the object at `path`; nothing at the root.
std::string Prefix(absl::string_view path) {
  return path.empty() ? std::string() : absl::StrCat(path, ": ");
}

// The string as JSON writes it, quotes and escapes included, so any bytes read safely.
std::string Quoted(absl::string_view s) {
  return json::serialize(json::string(s.data(), s.size()));
}

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

Problem WrongType(const std::string& path, absl::string_view expected, const json::value& v) {
  return Problem{path, false, absl::StrCat(path, " must be ", expected, ", got ", KindName(v))};
}

Check RefuseUnknownFields(const json::object& object, const std::string& path,
                          std::initializer_list<absl::string_view> known) {
  for (const auto& [name, value] : object) {
    const absl::string_view n(name.data(), name.size());
    if (std::find(known.begin(), known.end(), n) != known.end()) continue;
    return Problem{Join(path, n), true,
                   absl::StrCat(Prefix(path), "unknown field ", Quoted(n),
                                " (known fields: ", absl::StrJoin(known, ", "), ")")};
  }
  return std::nullopt;
}

Check MissingField(const std::string& path, absl::string_view name) {
  return Problem{path, false, absl::StrCat(Prefix(path), "missing field \"", name, "\"")};
}

Check ReadInteger(const json::value& v, const std::string& path, int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
    return std::nullopt;
  }
  if (v.is_double()) {
    // A whole number written as 1e3 or 5.0 is still that number.
    const double d = v.get_double();
    if (d == std::trunc(d) && std::abs(d) <= 9e18) {
      out = static_cast<int64_t>(d);
      return std::nullopt;
    }
    return Problem{path, false, absl::StrCat(path, " must be an integer, got ", d)};
  }
  if (v.is_uint64()) {
    return Problem{path, false,
                   absl::StrCat(path, " must be a 64-bit integer, got ", v.get_uint64())};
  }
  return WrongType(path, "an integer", v);
}

Check ReadOptionalInteger(const json::object& o, absl::string_view name, const std::string& path,
                          std::optional<int64_t>& out) {
  const json::value* v = o.if_contains(std::string_view(name.data(), name.size()));
  if (v == nullptr) return std::nullopt;
  int64_t n = 0;
  if (Check c = ReadInteger(*v, Join(path, name), n)) return c;
  out = n;
  return std::nullopt;
}

Check ReadString(const json::value& v, const std::string& path, std::string& out) {
  const json::string* s = v.if_string();
  if (s == nullptr) return WrongType(path, "a string", v);
  out.assign(s->data(), s->size());
  return std::nullopt;
}

std::optional<Duration> ParsePeriod(absl::string_view text) {
  if (text == "second") return std::chrono::seconds(1);
  if (text == "minute") return std::chrono::minutes(1);
  if (text == "hour") return std::chrono::hours(1);
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return std::nullopt;
  }
  return absl::ToChronoNanoseconds(d);
}

Check ReadPeriod(const json::value& v, const std::string& path, Duration& out) {
  std::string text;
  if (Check c = ReadString(v, path, text)) return c;
  std::optional<Duration> period = ParsePeriod(text);
  if (!period.has_value()) {
    return Problem{path, false,
                   absl::StrCat(path, ": unknown period ", Quoted(text), " (", kPeriodHelp, ")")};
  }
  out = *period;
  return std::nullopt;
}

Check ReadMeasure(const json::value& v, const std::string& path, RateMeasure& out) {
  std::string text;
  if (Check c = ReadString(v, path, text)) return c;
  if (text == "units") {
    out = RateMeasure::kUnits;
  } else if (text == "requests") {
    out = RateMeasure::kRequests;
  } else {
    return Problem{
        path, false,
        absl::StrCat(path, ": unknown measure ", Quoted(text), " (use units or requests)")};
  }
  return std::nullopt;
}

Check ReadRate(const json::value& v, const std::string& path, LimitRate& rate) {
  const json::object* o = v.if_object();
  if (o == nullptr) return WrongType(path, "an object", v);
  if (Check c = RefuseUnknownFields(*o, path, {"units", "per", "burst", "measure"})) return c;
  const json::value* units = o->if_contains("units");
  if (units == nullptr) return MissingField(path, "units");
  if (Check c = ReadInteger(*units, Join(path, "units"), rate.units)) return c;
  const json::value* per = o->if_contains("per");
  if (per == nullptr) return MissingField(path, "per");
  if (Check c = ReadPeriod(*per, Join(path, "per"), rate.period)) return c;
  if (Check c = ReadOptionalInteger(*o, "burst", path, rate.burst)) return c;
  if (const json::value* measure = o->if_contains("measure")) {
    if (Check c = ReadMeasure(*measure, Join(path, "measure"), rate.measure)) return c;
  }
  return std::nullopt;
}

// Decodes one entry without validating it; `path` is where it is ("" alone, "limits[3]").
Check ReadEntry(const json::value& v, const std::string& path, LimitSpec& spec) {
  const json::object* o = v.if_object();
  if (o == nullptr) return WrongType(path.empty() ? "a limit" : path, "an object", v);
  if (Check c = RefuseUnknownFields(*o, path, {"key", "max_in_flight", "rates", "units_header"})) {
    return c;
  }
  const json::value* key = o->if_contains("key");
  if (key == nullptr) return MissingField(path, "key");
  if (Check c = ReadString(*key, Join(path, "key"), spec.key)) return c;
  if (Check c = ReadOptionalInteger(*o, "max_in_flight", path, spec.max_in_flight)) return c;
  if (const json::value* rates = o->if_contains("rates")) {
    const std::string rates_path = Join(path, "rates");
    const json::array* list = rates->if_array();
    if (list == nullptr) return WrongType(rates_path, "an array", *rates);
    for (size_t i = 0; i < list->size(); ++i) {
      if (Check c = ReadRate((*list)[i], absl::StrCat(rates_path, "[", i, "]"),
                             spec.rates.emplace_back())) {
        return c;
      }
    }
  }
  if (const json::value* header = o->if_contains("units_header")) {
    if (Check c = ReadString(*header, Join(path, "units_header"), spec.units_header)) return c;
  }
  return std::nullopt;
}

// A period in the largest unit that divides it, which absl::ParseDuration reads back exactly.
std::string FormatExactPeriod(Duration period) {
  const int64_t ns = std::chrono::nanoseconds(period).count();
  if (ns == 0) return "0s";
  constexpr std::pair<int64_t, const char*> kUnits[] = {{int64_t{3'600'000'000'000}, "h"},
                                                        {int64_t{60'000'000'000}, "m"},
                                                        {1'000'000'000, "s"},
                                                        {1'000'000, "ms"},
                                                        {1'000, "us"},
                                                        {1, "ns"}};
  for (const auto& [size, unit] : kUnits) {
    if (ns % size == 0) return absl::StrCat(ns / size, unit);
  }
  return absl::StrCat(ns, "ns");  // not reached: everything divides by 1
}

absl::Status ErrorAt(absl::string_view source, JsonPosition at, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", at.line, ":", at.column, ": ", message));
}

// Parsing a file's text: each error says where it is.
class LimitsTextParser {
 public:
  LimitsTextParser(std::string_view text, absl::string_view source)
      : source_(source), where_(text) {}

  absl::StatusOr<std::vector<LimitSpec>> Parse(const json::value& root) {
    if (const std::optional<std::string>& repeated = where_.repeated_member()) {
      return Error(where_.NameOf(*repeated), absl::StrCat(*repeated, ": field given twice"));
    }
    const json::object* o = root.if_object();
    if (o == nullptr) {
      return Error(
          where_.ValueOf(""),
          absl::StrCat("the file must be a JSON object {\"limits\": [...]}, got ", KindName(root)));
    }
    if (Check c = RefuseUnknownFields(*o, "", {"limits"})) return Error(*c);
    const json::value* limits = o->if_contains("limits");
    if (limits == nullptr) return Error(*MissingField("", "limits"));
    const json::array* list = limits->if_array();
    if (list == nullptr) return Error(WrongType("limits", "an array", *limits));
    std::vector<LimitSpec> specs;
    specs.reserve(list->size());
    absl::flat_hash_map<std::string, size_t> entry_of_key;
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string path = absl::StrCat("limits[", i, "]");
      LimitSpec& spec = specs.emplace_back();
      if (Check c = ReadEntry((*list)[i], path, spec)) return Error(*c);
      if (absl::Status valid = spec.Validate(); !valid.ok()) {
        return Error(WhereViolated(path, valid), absl::StrCat(path, ": ", valid.message()));
      }
      auto [first, inserted] = entry_of_key.try_emplace(spec.key, i);
      if (!inserted) {
        const std::string first_path = absl::StrCat("limits[", first->second, "]");
        return Error(where_.ValueOf(Join(path, "key")),
                     absl::StrCat(path, ".key: duplicate key ", Quoted(spec.key), ", also ",
                                  first_path, " (line ", where_.ValueOf(first_path).line, ")"));
      }
    }
    return specs;
  }

 private:
  absl::Status Error(JsonPosition at, absl::string_view message) const {
    return ErrorAt(source_, at, message);
  }
  absl::Status Error(const Problem& p) const {
    return Error(p.at_name ? where_.NameOf(p.path) : where_.ValueOf(p.path), p.message);
  }
  // The first violated field of the entry at `path` ("rates[1].period" is its "per").
  JsonPosition WhereViolated(const std::string& path, const absl::Status& status) const {
    const std::vector<FieldViolation> violations = FieldViolationsOf(status);
    if (violations.empty()) return where_.ValueOf(path);
    std::string field = violations.front().field;
    if (const size_t at = field.rfind(".period"); at != std::string::npos) {
      field.replace(at, 7, ".per");
    }
    return where_.ValueOf(Join(path, field));
  }

  absl::string_view source_;
  JsonLocations where_;
};

}  // namespace

absl::StatusOr<std::vector<LimitSpec>> ParseLimitsText(std::string_view text,
                                                       std::string_view source_name) {
  const absl::string_view source(source_name.data(), source_name.size());
  json::parser parser;
  boost::system::error_code ec;
  const size_t parsed = parser.write(text.data(), text.size(), ec);
  if (ec) {
    return ErrorAt(source, JsonPositionAt(text, parsed),
                   absl::StrCat("invalid JSON: ", ec.message()));
  }
  const json::value root = parser.release();
  return LimitsTextParser(text, source).Parse(root);
}

absl::StatusOr<std::vector<LimitSpec>> LoadLimitsFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open limits file '", path, "'"));
  }
  std::string text;
  char buffer[16384];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) {
    return absl::ErrnoToStatus(read_errno, absl::StrCat("cannot read limits file '", path, "'"));
  }
  return ParseLimitsText(text, path);
}

boost::json::value LimitSpecToJson(const LimitSpec& spec) {
  json::object o;
  o["key"] = spec.key;
  if (spec.max_in_flight.has_value()) o["max_in_flight"] = *spec.max_in_flight;
  if (!spec.rates.empty()) {
    json::array& rates = o["rates"].emplace_array();
    for (const LimitRate& rate : spec.rates) {
      json::object& r = rates.emplace_back(json::object()).as_object();
      r["units"] = rate.units;
      r["per"] = FormatExactPeriod(rate.period);
      if (rate.burst.has_value()) r["burst"] = *rate.burst;
      if (rate.measure == RateMeasure::kRequests) r["measure"] = "requests";
    }
  }
  if (!spec.units_header.empty()) o["units_header"] = spec.units_header;
  return o;
}

absl::StatusOr<LimitSpec> LimitSpecFromJson(const boost::json::value& json) {
  LimitSpec spec;
  if (Check c = ReadEntry(json, "", spec)) return InvalidField(c->path, c->message);
  RETURN_IF_ERROR(spec.Validate());
  return spec;
}

}  // namespace batchd::core
