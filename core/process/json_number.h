// Reading JSON numbers from executor inputs, which arrive as int64, uint64 or double
// depending on how the client wrote them. Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>

namespace batchd::core {

// `v` as a non-negative integer when it is one (a whole double up to 9e15 counts), else nullopt.
std::optional<uint64_t> AsNonNegativeInteger(const boost::json::value& v);

}  // namespace batchd::core
