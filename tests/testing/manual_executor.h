// An executor driven by the test: it records every attempt it is asked to start and every
// cancellation, and completes attempts only when the test says so. Single-threaded.
#pragma once

#include <algorithm>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "core/executors/executor.h"

namespace batchd::testing {

class ManualExecutor final : public core::Executor {
 public:
  struct Attempt {
    core::AttemptToken token;
    std::string task_id;
    uint32_t attempt = 0;
    core::SteadyTime started{};
    bool active = true;
    boost::json::value input{};  // as the scheduler passed it
  };

  explicit ManualExecutor(const core::Clock& clock) : clock_(clock) {}

  void Start(const core::ExecutionRequest& request, core::CompletionSink& sink) override {
    sink_ = &sink;
    attempts_.push_back({request.token, std::string(request.task_id), request.attempt,
                         clock_.SteadyNow(), true, request.input});
    peak_running_ = std::max(peak_running_, running());
  }
  void Cancel(const core::AttemptToken& token) override {
    cancelled_.push_back(token);
    for (Attempt& a : attempts_) {
      if (a.token == token) a.active = false;
    }
  }

  // Completes the oldest active attempt of `task_id`; false if there is none.
  bool Finish(const std::string& task_id, core::ExecutionOutcome outcome) {
    for (Attempt& a : attempts_) {
      if (a.active && a.task_id == task_id) {
        a.active = false;
        sink_->Complete(a.token, std::move(outcome));
        return true;
      }
    }
    return false;
  }
  // Sends partial output for the oldest active attempt of `task_id`; false if there is none.
  bool Output(const std::string& task_id, std::string chunk) {
    for (Attempt& a : attempts_) {
      if (a.active && a.task_id == task_id) {
        sink_->Output(a.token, std::move(chunk));
        return true;
      }
    }
    return false;
  }
  // Reports for an attempt regardless of whether it is still active (for fencing tests).
  void ReportRaw(const core::AttemptToken& token, core::ExecutionOutcome outcome) {
    sink_->Complete(token, std::move(outcome));
  }

  size_t running() const {
    return static_cast<size_t>(std::count_if(attempts_.begin(), attempts_.end(),
                                             [](const Attempt& a) { return a.active; }));
  }
  std::vector<std::string> StartedIds() const {
    std::vector<std::string> ids;
    for (const Attempt& a : attempts_) ids.push_back(a.task_id);
    return ids;
  }
  const std::vector<Attempt>& attempts() const { return attempts_; }
  const std::vector<core::AttemptToken>& cancelled() const { return cancelled_; }
  size_t peak_running() const { return peak_running_; }

 private:
  const core::Clock& clock_;
  core::CompletionSink* sink_ = nullptr;
  std::vector<Attempt> attempts_;
  std::vector<core::AttemptToken> cancelled_;
  size_t peak_running_ = 0;
};

}  // namespace batchd::testing
