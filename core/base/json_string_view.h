// A Boost.JSON string (or string_view) seen as an absl::string_view, for the Abseil string
// functions. Header-only.
#pragma once

#include <boost/json/string.hpp>
#include <boost/json/string_view.hpp>

#include "absl/strings/string_view.h"

namespace batchd::core {

inline absl::string_view View(const boost::json::string& s) { return {s.data(), s.size()}; }
inline absl::string_view View(boost::json::string_view s) { return {s.data(), s.size()}; }

}  // namespace batchd::core
