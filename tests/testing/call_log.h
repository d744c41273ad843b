// The calls a fake gRPC service answered (tests/testing/fake_batch_service.h and its
// neighbours), in order, with their deadlines. Thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/message.h"

namespace batchd::testing {

// Every call the fake services answered, in order.
class CallLog {
 public:
  using SystemTime = std::chrono::system_clock::time_point;

  void Record(const std::string& method, const google::protobuf::Message& request,
              const grpc::CallbackServerContext& context) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(method + " " + request.ShortDebugString());
    deadlines_.push_back(context.deadline());
  }
  // "<Method> <request in protobuf text format, one line>" for each call.
  std::vector<std::string> calls() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Each call's deadline as the server saw it; SystemTime::max() for none.
  std::vector<SystemTime> deadlines() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return deadlines_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<SystemTime> deadlines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::testing
