#include "tests/reliability/soak_batch.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace batchd::soak {
namespace {

using google::protobuf::Value;

constexpr uint32_t kTimeoutMs = 20000;  // long enough to wait out a gap without workers

bool Chance(std::mt19937_64& rng, double p) { return std::bernoulli_distribution(p)(rng); }

int Uniform(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

Value Object(std::initializer_list<std::pair<const char*, Value>> fields) {
  Value v;
  auto& out = *v.mutable_struct_value()->mutable_fields();
  for (const auto& [name, value] : fields) out[name] = value;
  return v;
}

Value Number(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}

Value Text(std::string s) {
  Value v;
  v.set_string_value(std::move(s));
  return v;
}

const Value* Field(const Value& value, const std::string& name) {
  if (!value.has_struct_value()) return nullptr;
  const auto& fields = value.struct_value().fields();
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

void FixedRetries(uint32_t max_retries, v1::RetryPolicy* policy) {
  policy->set_kind(v1::RETRY_KIND_FIXED);
  policy->set_max_retries(max_retries);
  policy->set_initial_delay_ms(5);
}

Value EchoInput(uint64_t serial, size_t index) {
  return Object({{"serial", Number(static_cast<double>(serial))},
                 {"index", Number(static_cast<double>(index))},
                 {"pad", Text(std::string(index * 7 % 64, 'x'))}});
}

SoakTaskKind RandomKind(std::mt19937_64& rng) {
  const int roll = Uniform(rng, 0, 99);
  if (roll < 28) return SoakTaskKind::kEcho;
  if (roll < 53) return SoakTaskKind::kSleep;
  if (roll < 63) return SoakTaskKind::kFlaky;
  if (roll < 70) return SoakTaskKind::kFail;
  return SoakTaskKind::kWorker;
}

bool IsFinal(v1::TaskState s) {
  return s == v1::TASK_STATE_SUCCEEDED || s == v1::TASK_STATE_FAILED ||
         s == v1::TASK_STATE_TIMED_OUT || s == v1::TASK_STATE_SKIPPED ||
         s == v1::TASK_STATE_CANCELLED;
}

bool IsWorkerLost(const v1::TaskResult& r) {
  return r.state() == v1::TASK_STATE_FAILED && absl::StartsWith(r.error(), "Worker lost ");
}

}  // namespace

SoakBatch SoakBatch::Random(std::mt19937_64& rng, uint64_t serial,
                            const std::string& worker_executor) {
  SoakBatch batch(serial, worker_executor);
  const int n = Uniform(rng, 3, 10);
  for (int i = 0; i < n; ++i) {
    SoakTask task;
    task.id = absl::StrFormat("t%02d", i);
    task.kind = RandomKind(rng);
    task.priority = Uniform(rng, 0, 2);
    task.sleep_ms = Uniform(rng, 1, task.kind == SoakTaskKind::kWorker ? 30 : 50);
    task.succeed_on = Uniform(rng, 1, 2);
    if (i > 0 && Chance(rng, 0.45)) {
      const int deps = Uniform(rng, 1, std::min(2, i));
      for (int d = 0; d < deps; ++d) {
        const size_t dep = static_cast<size_t>(Uniform(rng, 0, i - 1));
        if (std::find(task.dependencies.begin(), task.dependencies.end(), dep) ==
            task.dependencies.end()) {
          task.dependencies.push_back(dep);
        }
      }
    }
    batch.tasks_.push_back(std::move(task));
  }
  constexpr v1::Aggregation kAggregations[] = {v1::AGGREGATION_ORDERED, v1::AGGREGATION_UNORDERED,
                                               v1::AGGREGATION_STREAMING, v1::AGGREGATION_PRIORITY};
  batch.aggregation_ = kAggregations[Uniform(rng, 0, 3)];
  const int policy = Uniform(rng, 0, 9);
  batch.on_failure_ = policy < 7   ? v1::DEPENDENCY_FAILURE_SKIP_DEPENDENTS
                      : policy < 9 ? v1::DEPENDENCY_FAILURE_RUN_DEPENDENTS
                                   : v1::DEPENDENCY_FAILURE_CANCEL_BATCH;
  batch.max_concurrent_ = static_cast<uint32_t>(Uniform(rng, 1, 8));
  return batch;
}

void SoakBatch::FillRequest(google::protobuf::RepeatedPtrField<v1::Task>* tasks,
                            v1::BatchOptions* options) const {
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const SoakTask& t = tasks_[i];
    v1::Task* task = tasks->Add();
    task->set_id(t.id);
    task->set_priority(t.priority);
    for (size_t d : t.dependencies) task->add_dependencies(tasks_[d].id);
    switch (t.kind) {
      case SoakTaskKind::kEcho:
        task->set_executor("echo");
        *task->mutable_input() = EchoInput(serial_, i);
        break;
      case SoakTaskKind::kSleep:
        task->set_executor("sleep");
        *task->mutable_input() = Object({{"ms", Number(t.sleep_ms)}});
        break;
      case SoakTaskKind::kFlaky:
        task->set_executor("fail");
        *task->mutable_input() =
            Object({{"error", Text("flaky")}, {"succeed_on_attempt", Number(t.succeed_on)}});
        FixedRetries(3, task->mutable_retry_policy());
        break;
      case SoakTaskKind::kFail:
        task->set_executor("fail");
        *task->mutable_input() = Object({{"error", Text(absl::StrCat("boom-", t.id))}});
        FixedRetries(1, task->mutable_retry_policy());
        break;
      case SoakTaskKind::kWorker:
        task->set_executor(worker_executor_);
        *task->mutable_input() = Object({{"sleep_ms", Number(t.sleep_ms)}});
        break;
    }
  }
  options->set_max_concurrent(max_concurrent_);
  options->set_timeout_ms(kTimeoutMs);
  options->set_aggregation(aggregation_);
  options->set_on_dependency_failure(on_failure_);
  options->set_wait_for_workers(true);
  FixedRetries(2, options->mutable_retry_policy());
}

v1::SubmitBatchRequest SoakBatch::SubmitRequest() const {
  v1::SubmitBatchRequest request;
  FillRequest(request.mutable_tasks(), request.mutable_options());
  (*request.mutable_labels())["soak"] = absl::StrCat(serial_);
  return request;
}

v1::ProcessBatchRequest SoakBatch::ProcessRequest() const {
  v1::ProcessBatchRequest request;
  FillRequest(request.mutable_tasks(), request.mutable_options());
  (*request.mutable_labels())["soak"] = absl::StrCat(serial_);
  return request;
}

std::vector<v1::TaskState> SoakBatch::ModelStates(const std::vector<const v1::TaskResult*>& by_task,
                                                  int& worker_lost) const {
  std::vector<v1::TaskState> model(tasks_.size(), v1::TASK_STATE_UNSPECIFIED);
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const SoakTask& t = tasks_[i];
    const bool deps_succeeded =
        std::all_of(t.dependencies.begin(), t.dependencies.end(),
                    [&](size_t d) { return model[d] == v1::TASK_STATE_SUCCEEDED; });
    if (!deps_succeeded && on_failure_ != v1::DEPENDENCY_FAILURE_RUN_DEPENDENTS) {
      model[i] = v1::TASK_STATE_SKIPPED;
    } else if (t.kind == SoakTaskKind::kFail) {
      model[i] = v1::TASK_STATE_FAILED;
    } else if (t.kind == SoakTaskKind::kWorker && IsWorkerLost(*by_task[i])) {
      model[i] = v1::TASK_STATE_FAILED;
      ++worker_lost;
    } else {
      model[i] = v1::TASK_STATE_SUCCEEDED;
    }
  }
  return model;
}

SoakCheck SoakBatch::Check(const std::vector<v1::TaskResult>& results,
                           const SoakEnding& ending) const {
  SoakCheck check;
  std::vector<std::string>& problems = check.problems;
  const v1::BatchSummary& summary = ending.summary;
  const std::string where = absl::StrCat("batch ", summary.batch_id(), " (#", serial_, "): ");
  const auto problem = [&](auto&&... parts) { problems.push_back(absl::StrCat(where, parts...)); };

  std::vector<const v1::TaskResult*> by_task(tasks_.size(), nullptr);
  for (const v1::TaskResult& r : results) {
    const auto it = std::find_if(tasks_.begin(), tasks_.end(),
                                 [&](const SoakTask& t) { return t.id == r.task_id(); });
    if (it == tasks_.end()) {
      problem("result for unknown task '", r.task_id(), "'");
      continue;
    }
    const size_t i = static_cast<size_t>(it - tasks_.begin());
    if (by_task[i] != nullptr) problem("second result for task '", r.task_id(), "'");
    by_task[i] = &r;
    if (!IsFinal(r.state()))
      problem("task '", r.task_id(), "' result in state ", v1::TaskState_Name(r.state()));
    if (r.success() != (r.state() == v1::TASK_STATE_SUCCEEDED)) {
      problem("task '", r.task_id(), "' success=", r.success() ? "true" : "false", " in state ",
              v1::TaskState_Name(r.state()));
    }
  }
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (by_task[i] == nullptr) problem("no result for task '", tasks_[i].id, "' (lost)");
  }
  if (!problems.empty()) return check;

  const std::vector<v1::TaskState> model = ModelStates(by_task, check.worker_lost);
  const bool policy_cancel =
      on_failure_ == v1::DEPENDENCY_FAILURE_CANCEL_BATCH &&
      std::find(model.begin(), model.end(), v1::TASK_STATE_FAILED) != model.end();
  const bool cancelled = !ending.accepted_cancel.empty() || policy_cancel;
  const bool all_succeed = std::all_of(
      model.begin(), model.end(), [](v1::TaskState s) { return s == v1::TASK_STATE_SUCCEEDED; });
  const v1::BatchState want_state = cancelled     ? v1::BATCH_STATE_CANCELLED
                                    : all_succeed ? v1::BATCH_STATE_SUCCEEDED
                                                  : v1::BATCH_STATE_FAILED;
  if (summary.state() != want_state) {
    problem("state ", v1::BatchState_Name(summary.state()), ", expected ",
            v1::BatchState_Name(want_state), " (cancel accepted: '", ending.accepted_cancel, "')");
  }
  if (!ending.accepted_cancel.empty()) {
    if (summary.cancel_reason() != ending.accepted_cancel) {
      problem("cancel_reason '", summary.cancel_reason(), "', expected '", ending.accepted_cancel,
              "'");
    }
  } else if (policy_cancel && !(absl::StartsWith(summary.cancel_reason(), "task '") &&
                                absl::EndsWith(summary.cancel_reason(), "' failed"))) {
    problem("cancel_reason '", summary.cancel_reason(), "' for on_dependency_failure CANCEL_BATCH");
  }

  uint32_t succeeded = 0;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const v1::TaskResult& r = *by_task[i];
    succeeded += r.state() == v1::TASK_STATE_SUCCEEDED;
    const bool dep_cancelled =
        std::any_of(tasks_[i].dependencies.begin(), tasks_[i].dependencies.end(),
                    [&](size_t d) { return by_task[d]->state() == v1::TASK_STATE_CANCELLED; });
    const bool as_modelled =
        r.state() == model[i] && !(dep_cancelled && model[i] != v1::TASK_STATE_SKIPPED);
    const bool as_cancelled = cancelled && r.state() == v1::TASK_STATE_CANCELLED;
    if (!as_modelled && !as_cancelled) {
      problem("task '", r.task_id(), "' ", v1::TaskState_Name(r.state()), " '", r.error(),
              "', expected ", v1::TaskState_Name(model[i]), cancelled ? " or CANCELLED" : "");
      continue;
    }
    if (r.state() == v1::TASK_STATE_CANCELLED &&
        r.error() != absl::StrCat("Cancelled: ", summary.cancel_reason())) {
      problem("task '", r.task_id(), "' cancelled with error '", r.error(), "'");
    }
    CheckResult(tasks_[i], r, problems);
  }
  if (summary.total_tasks() != tasks_.size() || summary.successful_count() != succeeded ||
      summary.failed_count() != tasks_.size() - succeeded) {
    problem("summary counts total=", summary.total_tasks(),
            " successful=", summary.successful_count(), " failed=", summary.failed_count(),
            "; results have ", succeeded, " of ", tasks_.size(), " succeeded");
  }
  CheckOrder(results, problems);
  for (std::string& p : problems) {
    if (!absl::StartsWith(p, where)) p = absl::StrCat(where, p);
  }
  return check;
}

void SoakBatch::CheckResult(const SoakTask& task, const v1::TaskResult& r,
                            std::vector<std::string>& problems) const {
  const auto problem = [&](auto&&... parts) {
    problems.push_back(absl::StrCat("task '", task.id, "' ", parts...));
  };
  if (r.state() == v1::TASK_STATE_SKIPPED) {
    if (!absl::StartsWith(r.error(), "Skipped: dependency '"))
      problem("skipped: '", r.error(), "'");
    return;
  }
  if (r.state() == v1::TASK_STATE_FAILED && task.kind == SoakTaskKind::kFail) {
    if (r.error() != absl::StrCat("boom-", task.id) || r.retry_count() != 1) {
      problem("failed '", r.error(), "' after ", r.retry_count(), " retries");
    }
    return;
  }
  if (r.state() != v1::TASK_STATE_SUCCEEDED) return;
  const size_t index = static_cast<size_t>(&task - tasks_.data());
  switch (task.kind) {
    case SoakTaskKind::kEcho:
      if (!google::protobuf::util::MessageDifferencer::Equals(r.output(),
                                                              EchoInput(serial_, index))) {
        problem("echo output ", r.output().ShortDebugString());
      }
      break;
    case SoakTaskKind::kSleep: {
      const Value* slept = Field(r.output(), "slept_ms");
      if (slept == nullptr || slept->number_value() != task.sleep_ms) {
        problem("sleep output ", r.output().ShortDebugString());
      }
      break;
    }
    case SoakTaskKind::kFlaky:
      if (r.retry_count() != static_cast<uint32_t>(task.succeed_on)) {
        problem("succeeded after ", r.retry_count(), " retries, expected ", task.succeed_on);
      }
      break;
    case SoakTaskKind::kFail:
      problem("succeeded");
      break;
    case SoakTaskKind::kWorker: {
      const Value* id = Field(r.output(), "task_id");
      if (id == nullptr || id->string_value() != task.id || r.worker_id().empty()) {
        problem("worker output ", r.output().ShortDebugString(), " worker '", r.worker_id(), "'");
      }
      break;
    }
  }
}

void SoakBatch::CheckOrder(const std::vector<v1::TaskResult>& results,
                           std::vector<std::string>& problems) const {
  if (aggregation_ != v1::AGGREGATION_ORDERED && aggregation_ != v1::AGGREGATION_PRIORITY) return;
  const auto priority_of = [&](const std::string& id) {
    for (const SoakTask& t : tasks_) {
      if (t.id == id) return t.priority;
    }
    return 0.0;
  };
  for (size_t i = 1; i < results.size(); ++i) {
    const std::string& a = results[i - 1].task_id();
    const std::string& b = results[i].task_id();
    const bool in_order =
        aggregation_ == v1::AGGREGATION_ORDERED
            ? a < b
            : (priority_of(a) > priority_of(b) || (priority_of(a) == priority_of(b) && a < b));
    if (!in_order) {
      problems.push_back(absl::StrCat(v1::Aggregation_Name(aggregation_),
                                      " results out of order: '", a, "' before '", b, "'"));
      return;
    }
  }
}

}  // namespace batchd::soak
