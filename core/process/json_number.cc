#include "core/process/json_number.h"

#include <cmath>

namespace batchd::core {

std::optional<uint64_t> AsNonNegativeInteger(const boost::json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64()) {
    if (v.get_int64() < 0) return std::nullopt;
    return static_cast<uint64_t>(v.get_int64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d) || d < 0 || d > 9.0e15 || d != std::floor(d)) return std::nullopt;
    return static_cast<uint64_t>(d);
  }
  return std::nullopt;
}

}  // namespace batchd::core
