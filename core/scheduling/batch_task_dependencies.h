// The dependencies of one task and the outputs of those that succeeded, read from its batch:
// what an executor sees of them (ExecutionRequest::dependencies). A view: valid while the
// batch lives and its results stay recorded. Strand only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/types/span.h"
#include "core/executors/executor.h"
#include "core/scheduling/batch.h"

namespace batchd::core {

class BatchTaskDependencies final : public TaskDependencies {
 public:
  BatchTaskDependencies(const Batch& batch, uint32_t task)
      : batch_(batch), dependencies_(batch.graph().Dependencies(task)) {}
  size_t size() const override { return dependencies_.size(); }
  std::string_view id(size_t i) const override { return batch_.task_id(dependencies_[i]); }
  // nullptr while the dependency has no result or when it did not succeed.
  const boost::json::value* output(size_t i) const override {
    const TaskResult* r = batch_.result(dependencies_[i]);
    return r != nullptr && r->success() ? &r->output : nullptr;
  }

 private:
  const Batch& batch_;
  absl::Span<const uint32_t> dependencies_;
};

}  // namespace batchd::core
