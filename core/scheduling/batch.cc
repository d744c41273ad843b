#include "core/scheduling/batch.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/base/status_macros.h"
#include "core/inputs/input_refs.h"
#include "core/journal/crc32c.h"
#include "core/model/field_violation.h"

namespace batchd::core {
namespace {

// Options, in field order: max_concurrent, timeout_ms, retry_policy.
FieldViolations CheckOptions(const BatchOptions& options) {
  FieldViolations violations;
  if (options.max_concurrent.has_value() && *options.max_concurrent == 0) {
    violations.Add("options.max_concurrent", "max_concurrent must be greater than 0");
  }
  if (options.timeout_ms.has_value() && *options.timeout_ms == 0) {
    violations.Add("options.timeout_ms", "timeout_ms must be greater than 0");
  }
  violations.Merge(ValidateRetryPolicy(options.retry_policy, "options.retry_policy"));
  if (options.queue_timeout_ms.has_value() && *options.queue_timeout_ms == 0) {
    violations.Add("options.queue_timeout_ms", "queue_timeout_ms must be greater than 0");
  }
  if (options.close_after_idle_ms.has_value()) {
    if (!options.open) {
      violations.Add("options.close_after_idle_ms",
                     "close_after_idle_ms is for open batches (set options.open)");
    } else if (*options.close_after_idle_ms == 0) {
      violations.Add("options.close_after_idle_ms", "close_after_idle_ms must be greater than 0");
    }
  }
  return violations;
}

// A cache policy's fields (`field` = "tasks[3].cache" or "options.default_cache").
void CheckCache(const CacheSpec& cache, absl::string_view field, absl::string_view owner,
                FieldViolations& violations) {
  if (cache.ttl_ms == 0) {
    violations.Add(absl::StrCat(field, ".ttl_ms"),
                   absl::StrCat(owner, ": cache ttl_ms must be at least 1"));
  } else if (cache.ttl_ms > kMaxCacheTtlMs) {
    violations.Add(absl::StrCat(field, ".ttl_ms"),
                   absl::StrCat(owner, ": cache ttl_ms ", cache.ttl_ms, " is over the maximum ",
                                kMaxCacheTtlMs, " (30 days)"));
  }
  if (cache.key.size() > kMaxCacheKeyBytes) {
    violations.Add(absl::StrCat(field, ".key"),
                   absl::StrCat(owner, ": cache key of ", cache.key.size(),
                                " bytes is over the maximum of ", kMaxCacheKeyBytes));
  }
  if (cache.name_space.size() > kMaxCacheKeyBytes) {
    violations.Add(absl::StrCat(field, ".namespace"),
                   absl::StrCat(owner, ": cache namespace of ", cache.name_space.size(),
                                " bytes is over the maximum of ", kMaxCacheKeyBytes));
  }
}

// The limit checks of one list (`field` of `owner`): with a catalog every check, else the shape.
void CheckLimits(absl::Span<const LimitUse> uses, const LimitCatalog* catalog, bool allow_unknown,
                 absl::string_view field, absl::string_view owner, FieldViolations& violations) {
  if (uses.empty()) return;
  if (catalog != nullptr) {
    catalog->Check(uses, allow_unknown, field, owner, violations);
  } else {
    CheckLimitUses(uses, field, owner, violations);
  }
}

// Whether CheckLimits would find nothing, without building the names its messages need (the
// common case costs no allocation per task).
bool LimitsPass(absl::Span<const LimitUse> uses, const LimitCatalog* catalog, bool allow_unknown) {
  FieldViolations scratch;
  CheckLimits(uses, catalog, allow_unknown, {}, {}, scratch);
  return scratch.empty();
}

// The task fields the graph does not check (executor, retry_policy), in task order.
// `with_refs` (when given) gets the tasks whose input holds references to dependency outputs,
// `with_secrets` (when given) those whose input refers to `secrets` (checked when given).
FieldViolations CheckTaskFields(absl::Span<const TaskSpec> tasks, Batch::ExecutorCheck exists,
                                Batch::ExecutorNames names, const LimitCatalog* limits,
                                bool allow_unknown_limits, std::vector<uint32_t>* with_refs,
                                const SecretStore* secrets,
                                std::vector<std::pair<uint32_t, SecretRefs>>* with_secrets) {
  FieldViolations violations;
  std::optional<absl::flat_hash_set<absl::string_view>> ids;  // built when a reference needs it
  const auto is_task = [&](absl::string_view id) {
    if (!ids.has_value()) {
      ids.emplace();
      for (const TaskSpec& t : tasks) ids->insert(t.id);
    }
    return ids->contains(id);
  };
  absl::flat_hash_map<absl::string_view, bool> known;  // by executor name, asked once each
  std::optional<std::string> known_list;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const TaskSpec& t = tasks[i];
    auto [it, inserted] = known.try_emplace(t.executor, false);
    if (inserted) it->second = exists(t.executor);
    if (!it->second) {
      violations.Add([&] {
        if (!known_list.has_value()) known_list = absl::StrJoin(names(), ", ");
        return FieldViolation{absl::StrCat("tasks[", i, "].executor"),
                              absl::StrCat("Unknown executor '", t.executor, "' of task '", t.id,
                                           "' (known: ", *known_list, ")")};
      });
    }
    if (CheckInputRefs(
            t.input, [&] { return absl::StrCat("tasks[", i, "].input"); }, t.id, t.dependencies,
            is_task, violations) &&
        with_refs != nullptr) {
      with_refs->push_back(static_cast<uint32_t>(i));
    }
    if (secrets != nullptr) {
      SecretRefs refs = CheckSecretRefs(
          t.input, [&] { return absl::StrCat("tasks[", i, "].input"); }, t.id, t.executor, *secrets,
          violations);
      if (!refs.empty() && with_secrets != nullptr) {
        with_secrets->emplace_back(static_cast<uint32_t>(i), std::move(refs));
      }
    }
    if (t.cache.has_value()) {
      CheckCache(*t.cache, absl::StrCat("tasks[", i, "].cache"), absl::StrCat("Task '", t.id, "'"),
                 violations);
    }
    if (t.retry_policy.has_value()) {
      const absl::Status policy =
          ValidateRetryPolicy(*t.retry_policy, absl::StrCat("tasks[", i, "].retry_policy"));
      // Added one by one rather than merged: already in order, and no sort per task.
      for (FieldViolation& v : FieldViolationsOf(policy)) {
        violations.Add(std::move(v.field), std::move(v.description));
      }
    }
    if (!t.limits.empty() && !LimitsPass(t.limits, limits, allow_unknown_limits)) {
      CheckLimits(t.limits, limits, allow_unknown_limits, absl::StrCat("tasks[", i, "].limits"),
                  absl::StrCat("task '", t.id, "'"), violations);
    }
  }
  return violations;
}

}  // namespace

absl::StatusOr<TaskGraph> Batch::Validate(
    const BatchSpec& spec, ExecutorCheck executor_exists, ExecutorNames executor_names,
    const LimitCatalog* limits, std::vector<uint32_t>* tasks_with_refs, const SecretStore* secrets,
    std::vector<std::pair<uint32_t, SecretRefs>>* tasks_with_secrets) {
  FieldViolations violations;
  absl::StatusOr<TaskGraph> graph = TaskGraph::Build(spec.tasks);
  if (!graph.ok()) violations.Merge(graph.status());
  const bool allow_unknown = spec.options.allow_unknown_limits;
  violations.Merge(CheckTaskFields(spec.tasks, executor_exists, executor_names, limits,
                                   allow_unknown, tasks_with_refs, secrets, tasks_with_secrets));
  FieldViolations options = CheckOptions(spec.options);
  if (spec.options.default_cache.has_value()) {
    CheckCache(*spec.options.default_cache, "options.default_cache", "The batch's default_cache",
               options);
  }
  CheckLimits(spec.options.default_limits, limits, allow_unknown, "options.default_limits",
              "the batch's default_limits", options);
  violations.Merge(std::move(options));
  if (!violations.empty()) return std::move(violations).ToStatus();
  return graph;
}

absl::Status Batch::ResolveInput(uint32_t t) {
  const absl::Span<const uint32_t> dependencies = graph_->Dependencies(t);
  absl::StatusOr<boost::json::value> resolved =
      ResolveInputRefs(inputs_[t], [&](absl::string_view id) -> const boost::json::value* {
        for (uint32_t d : dependencies) {
          if (ids_[d] != id) continue;
          const TaskResult* r = result_of_[d];
          return r != nullptr && r->success() ? &r->output : nullptr;
        }
        return nullptr;  // not a dependency: CheckInputRefs refused it at submit
      });
  if (!resolved.ok()) return resolved.status();
  inputs_[t] = *std::move(resolved);
  input_refs_[t] = false;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Batch>> Batch::Create(BatchSpec spec, ExecutorRegistry& registry,
                                                     Identity identity, const LimitCatalog* limits,
                                                     const SecretStore* secrets) {
  static const SecretStore kNoSecrets;
  const bool wait_for_workers = spec.options.wait_for_workers;
  const auto has_executor = [&](const std::string& name) {
    return wait_for_workers ? registry.FindOrCreate(name).executor != nullptr
                            : registry.Find(name) != nullptr;
  };
  std::vector<uint32_t> with_refs;
  std::vector<std::pair<uint32_t, SecretRefs>> with_secrets;
  ASSIGN_OR_RETURN(TaskGraph graph,
                   Validate(
                       spec, has_executor, [&] { return registry.Names(); }, limits, &with_refs,
                       secrets != nullptr ? secrets : &kNoSecrets, &with_secrets));

  std::shared_ptr<Batch> b(new Batch());
  if (!with_refs.empty()) {
    b->input_refs_.resize(spec.tasks.size(), false);
    for (uint32_t t : with_refs) b->input_refs_[t] = true;
  }
  for (auto& [t, refs] : with_secrets) b->secret_refs_.emplace(t, std::move(refs));
  b->identity_ = std::move(identity);
  b->request_id_ = std::move(spec.request_id);
  b->labels_ = std::move(spec.labels);
  b->max_concurrent_ = spec.options.max_concurrent.value_or(kDefaultMaxConcurrent);
  b->on_dependency_failure_ = spec.options.on_dependency_failure;
  b->aggregation_ = spec.options.aggregation;
  b->load_balancer_ = spec.options.load_balancer;
  b->policies_.push_back(ResolveRetryPolicy(spec.options.retry_policy));
  const uint32_t batch_timeout = spec.options.timeout_ms.value_or(kDefaultTimeoutMs);
  b->queue_timeout_ms_ = spec.options.queue_timeout_ms;
  const bool any_limits = !spec.options.default_limits.empty() ||
                          std::any_of(spec.tasks.begin(), spec.tasks.end(),
                                      [](const TaskSpec& t) { return !t.limits.empty(); });
  if (any_limits) {
    b->limit_sets_.push_back(std::move(spec.options.default_limits));
    b->limit_index_.reserve(spec.tasks.size());
  }
  b->any_limits_ = any_limits;

  const size_t n = spec.tasks.size();
  const bool any_cache = spec.options.default_cache.has_value() ||
                         std::any_of(spec.tasks.begin(), spec.tasks.end(),
                                     [](const TaskSpec& t) { return t.cache.has_value(); });
  if (any_cache) {
    if (spec.options.default_cache.has_value()) {
      b->cache_specs_.push_back(std::move(*spec.options.default_cache));
    }
    b->cache_index_.reserve(n);
  }
  b->any_cache_ = any_cache;
  b->default_cache_ = spec.options.default_cache.has_value() ? 1 : 0;
  b->batch_timeout_ms_ = batch_timeout;
  b->wait_for_workers_ = wait_for_workers;
  b->allow_unknown_limits_ = spec.options.allow_unknown_limits;
  b->open_ = spec.options.open;
  b->close_after_idle_ms_ = spec.options.close_after_idle_ms;
  b->inputs_.reserve(n);
  b->priorities_.reserve(n);
  b->timeouts_ms_.reserve(n);
  b->executor_index_.reserve(n);
  b->policy_index_.reserve(n);
  RETURN_IF_ERROR(b->CompileTasks(spec.tasks, 0, registry));
  b->graph_.emplace(std::move(graph));
  b->slots_.resize(n);
  for (uint32_t t = 0; t < n; ++t) {
    b->slots_[t].remaining_deps = b->graph_->DependencyCount(t);
    if (b->slots_[t].remaining_deps != 0) continue;
    (b->NeedsPreparation(t) ? b->unprepared_ : b->ready_).push_back(t);
  }
  // Roots were pushed in input order; heapify by priority.
  std::make_heap(b->ready_.begin(), b->ready_.end(),
                 [&b](uint32_t x, uint32_t y) { return b->ReadyBefore(y, x); });

  b->AppendOrder(0);
  b->result_of_.assign(n, nullptr);
  return b;
}

void Batch::AppendOrder(uint32_t first) {
  if (aggregation_ != Aggregation::kOrdered && aggregation_ != Aggregation::kPriority) return;
  const auto begin = static_cast<std::ptrdiff_t>(order_.size());
  for (uint32_t t = first; t < size(); ++t) order_.push_back(t);
  if (aggregation_ == Aggregation::kOrdered) {
    std::stable_sort(order_.begin() + begin, order_.end(),
                     [this](uint32_t x, uint32_t y) { return ids_[x] < ids_[y]; });
  } else {
    std::stable_sort(order_.begin() + begin, order_.end(), [this](uint32_t x, uint32_t y) {
      if (priorities_[x] != priorities_[y]) return priorities_[x] > priorities_[y];
      return ids_[x] < ids_[y];
    });
  }
}

namespace {

// "tasks[12].dependencies[0]" -> "tasks[2].dependencies[0]" with `offset` 10: a violation of
// the combined graph named in the request that added tasks[offset..].
void ShiftTaskPaths(absl::Status& status, size_t offset) {
  FieldViolations shifted;
  for (FieldViolation& v : FieldViolationsOf(status)) {
    size_t index = 0;
    const size_t close = v.field.find(']');
    if (absl::StartsWith(v.field, "tasks[") && close != std::string::npos &&
        absl::SimpleAtoi(absl::string_view(v.field).substr(6, close - 6), &index) &&
        index >= offset) {
      v.field = absl::StrCat("tasks[", index - offset, v.field.substr(close));
    }
    shifted.Add(std::move(v.field), std::move(v.description));
  }
  if (!shifted.empty()) status = std::move(shifted).ToStatus();
}

}  // namespace

uint64_t AddTasksDigest(std::string_view content) {
  return (static_cast<uint64_t>(Crc32c(content)) << 32) ^ content.size();
}

absl::StatusOr<uint32_t> Batch::Extend(std::vector<TaskSpec> added, ExecutorRegistry& registry,
                                       const LimitCatalog* limits, const SecretStore* secrets) {
  static const SecretStore kNoSecrets;
  const uint32_t n = size();
  // The graph of every task: this batch's as ids and dependencies (their other fields were
  // checked at submit), then the added ones. Only added tasks can be wrong: existing tasks'
  // dependencies are fixed, so a cycle, a duplicate or an unknown dependency involves them.
  std::vector<TaskSpec> all(n);
  for (uint32_t t = 0; t < n; ++t) {
    all[t].id = ids_[t];
    for (uint32_t d : graph_->Dependencies(t)) all[t].dependencies.push_back(ids_[d]);
  }
  all.insert(all.end(), std::make_move_iterator(added.begin()),
             std::make_move_iterator(added.end()));
  FieldViolations violations;
  absl::StatusOr<TaskGraph> graph = TaskGraph::Build(all);
  if (!graph.ok()) {
    absl::Status status = graph.status();
    ShiftTaskPaths(status, n);
    violations.Merge(status);
  }
  const auto has_executor = [&](const std::string& name) {
    return wait_for_workers_ ? registry.FindOrCreate(name).executor != nullptr
                             : registry.Find(name) != nullptr;
  };
  std::vector<uint32_t> with_refs;
  std::vector<std::pair<uint32_t, SecretRefs>> with_secrets;
  // A reference may name any task of the batch that is a dependency.
  violations.Merge(CheckTaskFields(
      absl::MakeConstSpan(all).subspan(n), has_executor, [&] { return registry.Names(); }, limits,
      allow_unknown_limits_, &with_refs, secrets != nullptr ? secrets : &kNoSecrets,
      &with_secrets));
  if (!violations.empty()) return std::move(violations).ToStatus();

  // Nothing below fails but CompileTasks' bounds (65,535 executors or policies), checked first.
  const bool new_limits =
      std::any_of(all.begin() + n, all.end(), [](const TaskSpec& t) { return !t.limits.empty(); });
  const bool new_cache = std::any_of(all.begin() + n, all.end(),
                                     [](const TaskSpec& t) { return t.cache.has_value(); });
  if (new_limits && !any_limits_) {
    limit_sets_.emplace_back();  // the batch has no default_limits, or it would use limits
    limit_index_.assign(n, 0);
    any_limits_ = true;
  }
  if (new_cache && !any_cache_) {
    cache_index_.assign(n, 0);
    cache_keys_.resize(n);
    any_cache_ = true;
  }
  if (absl::Status compiled = CompileTasks(all, n, registry); !compiled.ok()) {
    // Undo the partial append (a batch near 65,535 distinct executors or policies).
    ids_.resize(n);
    inputs_.resize(n);
    priorities_.resize(n);
    timeouts_ms_.resize(n);
    executor_index_.resize(n);
    policy_index_.resize(n);
    if (any_limits_) limit_index_.resize(n);
    if (any_cache_) {
      cache_index_.resize(n);
      cache_keys_.resize(n);
    }
    return compiled;
  }
  if (!with_refs.empty()) {
    input_refs_.resize(size(), false);
    for (uint32_t t : with_refs) input_refs_[n + t] = true;
  } else if (!input_refs_.empty()) {
    input_refs_.resize(size(), false);
  }
  for (auto& [t, refs] : with_secrets) secret_refs_.emplace(n + t, std::move(refs));
  graph_.emplace(*std::move(graph));
  slots_.resize(size());
  for (uint32_t t = n; t < size(); ++t) {
    // A dependency that succeeded (or ended under RUN_DEPENDENTS) is done; one that failed
    // keeps the task waiting until the scheduler applies the policy (skips it).
    uint32_t remaining = 0;
    for (uint32_t d : graph_->Dependencies(t)) {
      const TaskState state = slots_[d].state;
      if (!IsFinal(state) || FateOfDependents(state) != DependentsFate::kRelease) ++remaining;
    }
    slots_[t].remaining_deps = remaining;
  }
  result_of_.resize(size(), nullptr);
  AppendOrder(n);
  ++version_;
  return n;
}

void Batch::ReadyAdded(uint32_t first, SteadyTime now) {
  if (cancel_requested_) return;
  for (uint32_t t = first; t < size(); ++t) {
    TaskSlot& s = slots_[t];
    if (s.remaining_deps != 0 || s.state != TaskState::kPending) continue;
    s.ready_at = now;
    PushReady(t);
  }
}

absl::Status Batch::CompileTasks(std::vector<TaskSpec>& tasks, size_t first,
                                 ExecutorRegistry& registry) {
  // `first`: where this request's tasks start in `tasks` (field paths are relative to it).
  absl::flat_hash_map<std::string, uint16_t> executor_slots;
  for (size_t e = 0; e < executor_names_.size(); ++e) {
    executor_slots.emplace(executor_names_[e], static_cast<uint16_t>(e));
  }
  const bool any_limits = any_limits_;
  const bool any_cache = any_cache_;
  for (size_t k = first; k < tasks.size(); ++k) {
    TaskSpec& t = tasks[k];
    const size_t i = k - first;
    uint16_t exec_index = 0;
    auto it = executor_slots.find(t.executor);
    if (it != executor_slots.end()) {
      exec_index = it->second;
    } else {
      std::shared_ptr<Executor> e = wait_for_workers_ ? registry.FindOrCreate(t.executor).executor
                                                      : registry.Find(t.executor);
      if (e == nullptr) {  // gone since Validate saw it
        return InvalidField(absl::StrCat("tasks[", i, "].executor"),
                            absl::StrCat("Unknown executor '", t.executor, "' of task '", t.id,
                                         "' (known: ", absl::StrJoin(registry.Names(), ", "), ")"));
      }
      if (executors_.size() >= 0xffff) {
        return InvalidField(absl::StrCat("tasks[", i, "].executor"),
                            "Too many distinct executors in one batch (limit 65535)");
      }
      exec_index = static_cast<uint16_t>(executors_.size());
      by_client_.push_back(e->CompletedByClient());
      executors_.push_back(std::move(e));
      executor_names_.push_back(t.executor);
      executor_slots.emplace(t.executor, exec_index);
    }
    uint16_t policy_index = 0;
    if (t.retry_policy.has_value()) {
      RetryPolicy p = ResolveRetryPolicy(*t.retry_policy);
      auto same = std::find(policies_.begin(), policies_.end(), p);
      if (same == policies_.end()) {
        if (policies_.size() >= 0xffff) {
          return InvalidField(absl::StrCat("tasks[", i, "].retry_policy"),
                              "Too many distinct retry policies in one batch (limit 65535)");
        }
        same = policies_.insert(policies_.end(), p);
      }
      policy_index = static_cast<uint16_t>(same - policies_.begin());
    }
    if (any_cache) {
      if (!t.cache.has_value()) {
        cache_index_.push_back(default_cache_);
      } else if (!cache_specs_.empty() && cache_specs_.back() == *t.cache) {
        cache_index_.push_back(static_cast<uint16_t>(cache_specs_.size()));
      } else {
        if (cache_specs_.size() >= 0xffff) {
          return InvalidField(absl::StrCat("tasks[", i, "].cache"),
                              "Too many distinct cache policies in one batch (limit 65535)");
        }
        cache_specs_.push_back(std::move(*t.cache));
        cache_index_.push_back(static_cast<uint16_t>(cache_specs_.size()));
      }
    }
    ids_.push_back(std::move(t.id));
    inputs_.push_back(std::move(t.input));
    priorities_.push_back(t.priority);
    // A task a client completes waits for a person or a system without the batch's timeout.
    const uint32_t default_timeout = by_client_[exec_index] ? kNoTimeout : batch_timeout_ms_;
    timeouts_ms_.push_back(t.timeout_ms > 0 ? t.timeout_ms : default_timeout);
    executor_index_.push_back(exec_index);
    policy_index_.push_back(policy_index);
    if (any_limits) {
      if (t.limits.empty()) {
        limit_index_.push_back(0);
      } else {
        // The task's own units win over a default of the same key.
        std::vector<LimitUse> merged = std::move(t.limits);
        for (const LimitUse& d : limit_sets_[0]) {
          if (std::none_of(merged.begin(), merged.end(),
                           [&](const LimitUse& u) { return u.key == d.key; })) {
            merged.push_back(d);
          }
        }
        // Tasks of a batch mostly name the same limits: one set for a run of equal ones.
        if (limit_sets_.size() > 1 && limit_sets_.back() == merged) {
          limit_index_.push_back(static_cast<uint32_t>(limit_sets_.size() - 1));
        } else {
          limit_index_.push_back(static_cast<uint32_t>(limit_sets_.size()));
          limit_sets_.push_back(std::move(merged));
        }
      }
    }
  }
  if (any_cache) cache_keys_.resize(ids_.size());
  return absl::OkStatus();
}

bool Batch::ReadyBefore(uint32_t a, uint32_t b) const {
  if (priorities_[a] != priorities_[b]) return priorities_[a] > priorities_[b];
  return a < b;
}

void Batch::PushReady(uint32_t t) {
  if (NeedsPreparation(t)) {
    unprepared_.push_back(t);
    return;
  }
  QueueReady(t);
}

uint32_t Batch::PopUnprepared() {
  const uint32_t t = unprepared_[unprepared_next_++];
  if (unprepared_next_ == unprepared_.size()) {
    unprepared_.clear();
    unprepared_next_ = 0;
  }
  return t;
}

void Batch::QueueReady(uint32_t t) {
  ready_.push_back(t);
  std::push_heap(ready_.begin(), ready_.end(),
                 [this](uint32_t x, uint32_t y) { return ReadyBefore(y, x); });
}

uint32_t Batch::PopReady() {
  std::pop_heap(ready_.begin(), ready_.end(),
                [this](uint32_t x, uint32_t y) { return ReadyBefore(y, x); });
  uint32_t t = ready_.back();
  ready_.pop_back();
  return t;
}

std::optional<uint32_t> Batch::FindTask(std::string_view id) const {
  const auto it = std::find(ids_.begin(), ids_.end(), id);
  if (it == ids_.end()) return std::nullopt;
  return static_cast<uint32_t>(it - ids_.begin());
}

void Batch::OnAttemptStarted(uint32_t t, SteadyTime now, bool takes_slot) {
  TaskSlot& s = slots_[t];
  s.state = TaskState::kRunning;
  s.attempt_started = now;
  ++s.generation;
  s.awaits_client = !takes_slot;
  if (takes_slot) {
    ++running_;
  } else {
    ++awaiting_clients_;
  }
  if (state_ == BatchState::kPending) {
    state_ = BatchState::kRunning;
    first_start_ = now;
  }
  ++version_;
}

bool Batch::OnAttemptEnded(uint32_t t) {
  TaskSlot& s = slots_[t];
  if (!std::exchange(s.awaits_client, false)) {
    --running_;
    return true;
  }
  --awaiting_clients_;
  ClientCompletion& c = client_completions_[t];
  c.spent.push_back(std::move(c.token));
  c.token.clear();
  return false;
}

void Batch::AwaitClient(uint32_t t, std::string token, WallTime since) {
  ClientCompletion& c = client_completions_[t];
  c.token = std::move(token);
  c.since = since;
}

void Batch::RestoreAwaiting(uint32_t t, std::string token, WallTime since) {
  // Only after its kStarted, and only for an executor a client completes (else: ignored).
  if (slots_[t].state != TaskState::kRunning || !completed_by_client(t)) {
    return;
  }
  slots_[t].awaits_client = true;
  AwaitClient(t, std::move(token), since);
}

void Batch::ResumeAwaiting(uint32_t t, SteadyTime now) {
  slots_[t].attempt_started = now;
  ++awaiting_clients_;
}

void Batch::Requeue(uint32_t t, SteadyTime now) {
  TaskSlot& s = slots_[t];
  s.state = TaskState::kPending;
  s.ready_at = now;
  PushReady(t);
  ++version_;
}

void Batch::WaitForRetry(uint32_t t, std::string error) {
  TaskSlot& s = slots_[t];
  ++s.retries;
  s.state = TaskState::kRetryWait;
  retry_waits_[t].error = std::move(error);
  ++version_;
}

void Batch::WaitThrottled(uint32_t t, std::string error) {
  TaskSlot& s = slots_[t];
  ++s.throttles;
  s.state = TaskState::kRetryWait;
  retry_waits_[t].error = std::move(error);
  ++version_;
}

const std::string* Batch::limit_wait_reason(uint32_t t) const {
  if (!slots_[t].limit_wait || t >= waiting_key_.size() || waiting_key_[t] == nullptr) {
    return nullptr;
  }
  const auto it = limit_waits_.find(*waiting_key_[t]);
  return it == limit_waits_.end() ? nullptr : &it->second.second;
}

void Batch::WaitForLimits(uint32_t t, const std::string& key, absl::string_view why) {
  slots_[t].limit_wait = true;
  ++limit_waiting_;
  auto [it, inserted] = limit_waits_.try_emplace(key);
  ++it->second.first;
  it->second.second = absl::StrCat("waiting for limit '", key, "' (", why, ")");
  waiting_key_.resize(slots_.size());
  waiting_key_[t] = &it->first;
  ++version_;
}

bool Batch::StopWaitingForLimits(uint32_t t) {
  if (!std::exchange(slots_[t].limit_wait, false)) return false;
  --limit_waiting_;
  const auto it = limit_waits_.find(*waiting_key_[t]);
  waiting_key_[t] = nullptr;
  if (--it->second.first == 0) limit_waits_.erase(it);
  ++version_;
  return true;
}

void Batch::GrantLimits(uint32_t t) {
  StopWaitingForLimits(t);
  slots_[t].limits_held = true;
  PushReady(t);
}

void Batch::OnRetryDue(uint32_t t, SteadyTime now) {
  TaskSlot& s = slots_[t];
  s.timer = kNoTimer;  // it fired
  s.state = TaskState::kPending;
  s.ready_at = now;
  retry_waits_.erase(t);
  PushReady(t);
}

bool Batch::Record(uint32_t t, TaskState state, boost::json::value output, std::string error,
                   SteadyTime now, std::string worker_id) {
  const TaskSlot& s = slots_[t];
  const bool ran = s.generation > 0;
  return AppendResult(t, state, ran, [&](TaskResult& r) {
    r.retry_count = s.retries;
    r.output = std::move(output);
    r.error = std::move(error);
    r.worker_id = std::move(worker_id);
    r.finished_at = ToWall(now);
    if (ran) {
      r.started_at = ToWall(s.attempt_started);
      r.duration_ms = ToMillis(now - s.attempt_started);
    }
  });
}

bool Batch::RecordCached(uint32_t t, boost::json::value output,
                         std::shared_ptr<const CachedFrom> origin, SteadyTime now) {
  StopWaitingForCache(t);
  slots_[t].cache = CacheStage::kDone;
  return AppendResult(t, TaskState::kSucceeded, /*ran=*/false, [&](TaskResult& r) {
    r.output = std::move(output);
    r.cached_from = std::move(origin);
    r.started_at = ToWall(now);
    r.finished_at = r.started_at;
  });
}

void Batch::WaitForCache(uint32_t t) {
  slots_[t].cache = CacheStage::kWaiting;
  ++cache_waiting_;
}

void Batch::TakeOverCacheFlight(uint32_t t, SteadyTime now) {
  StopWaitingForCache(t);
  slots_[t].cache = CacheStage::kRuns;
  slots_[t].ready_at = now;
  QueueReady(t);
}

bool Batch::StopWaitingForCache(uint32_t t) {
  if (slots_[t].cache != CacheStage::kWaiting) return false;
  slots_[t].cache = CacheStage::kDone;
  --cache_waiting_;
  return true;
}

void Batch::RestoreResult(JournalEvent& e) {
  slots_[e.task].awaits_client = false;
  const bool ran = e.started_at != WallTime{};
  if (state_ == BatchState::kPending) state_ = BatchState::kRunning;
  AppendResult(e.task, e.state, ran, [&](TaskResult& r) {
    r.retry_count = e.retries;
    r.output = std::move(e.output);
    r.error = std::move(e.error);
    r.worker_id = std::move(e.worker_id);
    r.cached_from = std::move(e.cached_from);
    r.started_at = e.started_at;
    r.finished_at = e.at;
    r.duration_ms = e.duration_ms;
  });
  // The ready queue is rebuilt once everything is replayed: only the counts change here.
  if (FateOfDependents(e.state) == DependentsFate::kRelease) {
    for (uint32_t d : graph_->Dependents(e.task)) {
      TaskSlot& s = slots_[d];
      if (s.remaining_deps > 0) --s.remaining_deps;
    }
  }
}

bool Batch::AppendResult(uint32_t t, TaskState state, bool ran,
                         absl::FunctionRef<void(TaskResult&)> fill) {
  slots_[t].state = state;
  if (!retry_waits_.empty()) retry_waits_.erase(t);
  // Built in place: a TaskResult moved into the log would cost a JSON value and three strings
  // moved and destroyed per task (+9 % instructions per no-op task in scheduler_bench).
  TaskResult& r = results_.emplace_back();
  r.task = t;
  r.state = state;
  fill(r);
  r.task_id = &ids_[t];
  r.priority = priorities_[t];
  r.executor = &executor_names_[executor_index_[t]];
  if (ran) ++executed_;
  duration_sum_ms_ += r.duration_ms;
  if (r.state == TaskState::kSucceeded) ++successful_;
  if (r.retry_count > 0) ++retried_;
  ++version_;
  result_of_[t] = &r;
  if (order_.empty()) {
    visible_.push_back(&r);
    return true;
  }
  return EmitVisible();
}

bool Batch::EmitVisible() {
  bool any = false;
  while (order_cursor_ < order_.size() && result_of_[order_[order_cursor_]] != nullptr) {
    visible_.push_back(result_of_[order_[order_cursor_]]);
    ++order_cursor_;
    any = true;
  }
  return any;
}

Batch::DependentsFate Batch::FateOfDependents(TaskState state) const {
  assert(IsFinal(state));
  if (state == TaskState::kSucceeded) return DependentsFate::kRelease;
  switch (on_dependency_failure_) {
    case DependencyFailure::kRunDependents:
      return DependentsFate::kRelease;
    case DependencyFailure::kCancelBatch:
      return DependentsFate::kCancelBatch;
    case DependencyFailure::kSkipDependents:
      break;
  }
  return DependentsFate::kSkip;
}

void Batch::ReleaseDependents(uint32_t t, SteadyTime now) {
  for (uint32_t d : graph_->Dependents(t)) {
    TaskSlot& s = slots_[d];
    if (--s.remaining_deps == 0 && s.state == TaskState::kPending && !cancel_requested_) {
      s.ready_at = now;
      PushReady(d);
    }
  }
}

void Batch::SkipDependents(uint32_t failed, SteadyTime now,
                           absl::FunctionRef<void(uint32_t)> recorded) {
  const std::string error = absl::StrCat("Skipped: dependency '", ids_[failed], "' failed");
  std::vector<uint32_t> stack(graph_->Dependents(failed).begin(), graph_->Dependents(failed).end());
  while (!stack.empty()) {
    const uint32_t t = stack.back();
    stack.pop_back();
    if (slots_[t].state != TaskState::kPending) continue;
    Record(t, TaskState::kSkipped, {}, error, now);
    recorded(t);
    for (uint32_t d : graph_->Dependents(t)) stack.push_back(d);
  }
}

void Batch::MarkDurable(uint64_t visible_results, bool finished, uint64_t chunk) {
  durable_visible_ = std::max(durable_visible_, visible_results);
  durable_chunks_ = std::max(durable_chunks_, chunk);
  durable_finished_ = durable_finished_ || finished;
}

void Batch::RestoreStarted(uint32_t t, uint32_t retries) {
  TaskSlot& s = slots_[t];
  if (std::exchange(s.awaits_client, false)) {  // an earlier attempt waited for a client
    ClientCompletion& c = client_completions_[t];
    c.spent.push_back(std::move(c.token));
    c.token.clear();
  }
  s.state = TaskState::kRunning;
  s.retries = retries;
  ++s.generation;
  if (state_ == BatchState::kPending) state_ = BatchState::kRunning;
}

void Batch::RestoreRetryWait(uint32_t t, uint32_t retries) {
  TaskSlot& s = slots_[t];
  s.awaits_client = false;
  s.state = TaskState::kRetryWait;
  s.retries = retries;
}

void Batch::RerunInterrupted(uint32_t t) {
  TaskSlot& s = slots_[t];
  s.state = TaskState::kPending;
  ++s.retries;
}

void Batch::RebuildReady() {
  ready_.clear();
  unprepared_.clear();
  unprepared_next_ = 0;
  if (cancel_requested_) return;
  for (uint32_t t = 0; t < slots_.size(); ++t) {
    const TaskSlot& s = slots_[t];
    if (s.state != TaskState::kPending || s.parked || s.remaining_deps != 0) continue;
    (NeedsPreparation(t) ? unprepared_ : ready_).push_back(t);
  }
  std::make_heap(ready_.begin(), ready_.end(),
                 [this](uint32_t x, uint32_t y) { return ReadyBefore(y, x); });
}

void Batch::MarkCancelled(std::string reason) {
  cancel_requested_ = true;
  cancel_reason_ = std::move(reason);
  ready_.clear();
  ++version_;
}

void Batch::Finish(SteadyTime now) {
  finished_steady_ = now;
  if (cancel_requested_) {
    state_ = BatchState::kCancelled;
  } else {
    state_ = successful_ == ids_.size() ? BatchState::kSucceeded : BatchState::kFailed;
  }
  ++version_;
  // Nothing runs any more: a retained batch must not keep a worker executor known.
  std::vector<std::shared_ptr<Executor>>().swap(executors_);
}

BatchSummary Batch::Summary() const {
  BatchSummary s;
  s.batch_id = identity_.id;
  s.state = state_;
  s.results = visible_;
  s.total_tasks = size();
  s.successful_count = successful_;
  s.failed_count = static_cast<uint32_t>(results_.size()) - successful_;
  s.retried_count = retried_;
  s.cancel_reason = cancel_reason_;
  if (finished()) {
    s.total_duration_ms = ToMillis(finished_steady_ - identity_.created_steady);
  }
  const double n = static_cast<double>(results_.size());
  if (s.total_duration_ms > 0) s.throughput_per_second = n / s.total_duration_ms * 1000.0;
  if (s.total_tasks > 0) s.success_rate = 100.0 * successful_ / s.total_tasks;
  if (n > 0) s.avg_duration_ms = duration_sum_ms_ / n;
  s.keep_alive = shared_from_this();
  return s;
}

BatchProgress Batch::Progress() const {
  BatchProgress p;
  p.batch_id = identity_.id;
  p.state = state_;
  p.total_tasks = size();
  p.completed_tasks = completed();
  p.successful_tasks = successful_;
  p.failed_tasks = completed() - successful_;
  p.running_tasks = running_ + awaiting_clients_;
  p.pending_tasks = p.total_tasks - p.completed_tasks - p.running_tasks;
  p.throttled_tasks = limit_waiting_;
  p.cache_waiting_tasks = cache_waiting_;
  p.limit_waits.reserve(limit_waits_.size());
  for (const auto& [key, wait] : limit_waits_) {
    p.limit_waits.push_back({key, wait.first, wait.second});
  }
  if (awaiting_clients_ > 0) ListAwaitingClients(p);
  p.progress_percentage = p.total_tasks == 0 ? 100.0 : 100.0 * p.completed_tasks / p.total_tasks;
  p.created_at = identity_.created_wall;
  p.labels = labels_;
  if (!finished() && executed_ > 0) {
    // Remaining tasks run in waves of the effective concurrency, each wave taking the mean
    // observed duration.
    const double mean_ms = duration_sum_ms_ / executed_;
    const uint32_t remaining = p.total_tasks - p.completed_tasks;
    const uint32_t concurrency = std::max<uint32_t>(1, std::min(max_concurrent_, remaining));
    const double waves = std::ceil(static_cast<double>(remaining) / concurrency);
    p.estimated_remaining_ms = waves * mean_ms;
  }
  return p;
}

void Batch::ListAwaitingClients(BatchProgress& p) const {
  p.awaiting_completion_tasks = awaiting_clients_;
  std::vector<uint32_t> tasks;
  for (const auto& [t, completion] : client_completions_) {
    if (slots_[t].awaits_client) tasks.push_back(t);
  }
  std::sort(tasks.begin(), tasks.end());
  if (tasks.size() > kMaxListedAwaitingTasks) tasks.resize(kMaxListedAwaitingTasks);
  p.awaiting_completion.reserve(tasks.size());
  for (const uint32_t t : tasks) {
    const ClientCompletion& c = client_completions_.at(t);
    p.awaiting_completion.push_back({ids_[t], c.token, c.since, slots_[t].retries, inputs_[t]});
  }
}

ResultChunk Batch::ReadResults(uint64_t after_sequence, size_t max) const {
  ResultChunk chunk;
  chunk.keep_alive = shared_from_this();
  if (aggregation_ == Aggregation::kStreaming) max = 1;
  max = std::max<size_t>(max, 1);
  const uint64_t available =
      journaled_ ? std::min<uint64_t>(durable_visible_, visible_.size()) : visible_.size();
  if (after_sequence < available) {
    const uint64_t end = std::min<uint64_t>(available, after_sequence + max);
    chunk.results.assign(visible_.begin() + static_cast<std::ptrdiff_t>(after_sequence),
                         visible_.begin() + static_cast<std::ptrdiff_t>(end));
    chunk.last_sequence = end;
    return chunk;
  }
  chunk.last_sequence = after_sequence;
  if (finished_durably() && available == visible_.size()) {
    chunk.summary = Summary();
    chunk.summary->results.clear();
  }
  return chunk;
}
}  // namespace batchd::core
