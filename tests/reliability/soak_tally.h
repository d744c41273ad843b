// What the soak test saw: every RPC's status code by method, named counters, and the problems
// found (an unexpected code, a lost or duplicated result, a wrong state). Thread-safe: every
// client thread and the worker churn report into one tally.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace batchd::soak {

class SoakTally {
 public:
  // Counts `status` under `method`. True when its code is one of `expected`; otherwise also
  // records a problem naming the call, the code, its message and `context`.
  bool Call(absl::string_view method, const grpc::Status& status,
            std::initializer_list<grpc::StatusCode> expected, absl::string_view context)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Problem(std::string text) ABSL_LOCKS_EXCLUDED(mu_);
  void Count(absl::string_view counter, int64_t n = 1) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t counter(absl::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t problem_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // The first problems recorded (at most kKeptProblems), for the failure message.
  std::vector<std::string> problems() const ABSL_LOCKS_EXCLUDED(mu_);
  // "method code: count" lines and "counter: value" lines, sorted.
  std::string Report() const ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr size_t kKeptProblems = 40;

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, grpc::StatusCode>, int64_t> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t, std::less<>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
  int64_t problem_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// The canonical name of a gRPC status code ("FAILED_PRECONDITION").
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace batchd::soak
