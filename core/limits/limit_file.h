// The limits file (--limits-file) and the JSON form of one LimitSpec, which the journal also
// stores for limits changed at run time. Pure functions (LoadLimitsFile reads the file); safe
// from any thread.
//
// The file is JSON (no comments, no trailing commas), one object with one member:
//   {
//     "limits": [
//       {"key": "openai", "max_in_flight": 50,
//        "rates": [{"units": 500, "per": "1m", "measure": "requests"},
//                  {"units": 90000, "per": "minute", "burst": 90000}],
//        "units_header": "x-usage-tokens"},
//       {"key": "tenant:42", "max_in_flight": 4}
//     ]
//   }
// An entry has "key" and any of "max_in_flight", "rates", "units_header"; a rate has "units",
// "per" and optionally "burst" and "measure" ("units", the default, or "requests"). "per" is
// "second", "minute", "hour" or a duration: "250ms", "1s", "1.5s", "1m", "2h30m", "100us",
// "10ns". Unknown or repeated fields are refused (a typo must not silently do nothing), so are
// two entries with the same key.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/limits/limit_spec.h"

namespace batchd::core {

// The limits of a file's text in file order, each passing LimitSpec::Validate. Errors are
// INVALID_ARGUMENT, the first one found, as "<source>:<line>:<column>: <what>", e.g.
//   limits.json:4:27: limits[0].rates[1].per: unknown period "fortnight" (use second, ...)
absl::StatusOr<std::vector<LimitSpec>> ParseLimitsText(std::string_view text,
                                                       std::string_view source);

// Reads `path` and parses it (errors name the path as their source); NOT_FOUND when there is
// no such file, PERMISSION_DENIED when it may not be read, UNAVAILABLE for other read errors.
absl::StatusOr<std::vector<LimitSpec>> LoadLimitsFile(const std::string& path);

// One entry of the file's "limits". Optional fields that are not set are left out; a period is
// written in the largest unit that divides it ("1m", "1500ms", "123ns") so it parses back to
// the same value: LimitSpecFromJson(LimitSpecToJson(s)) == s for every valid s.
boost::json::value LimitSpecToJson(const LimitSpec& spec);
// The inverse, refusing what the file refuses and anything LimitSpec::Validate refuses, with
// INVALID_ARGUMENT whose message and field violation name the field ("rates[0].per").
absl::StatusOr<LimitSpec> LimitSpecFromJson(const boost::json::value& json);

}  // namespace batchd::core
