// The daemon's shared-limit flags (--limits-file, --max-limit-keys) read into a validated value:
// the limits file is read and checked here, so a bad file stops batchd at start (exit 2) with
// the file, line, column and problem. Call from main's thread only, after
// absl::ParseCommandLine.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/limits/limit_spec.h"

namespace batchd::server {

struct LimitsConfig {
  std::string file;                     // --limits-file; empty: none
  std::vector<core::LimitSpec> limits;  // the file's, in file order
  size_t max_keys = 100'000;            // --max-limit-keys
};

// INVALID_ARGUMENT naming the flag: "--limits-file: limits.json:4:27: limits[0].rates[1].per:
// ...", "--limits-file: cannot open limits file '/etc/limits.json': No such file or directory",
// "--max-limit-keys must be ...". A file with more limits than --max-limit-keys is refused too.
absl::StatusOr<LimitsConfig> LimitsConfigFromFlags();

}  // namespace batchd::server
