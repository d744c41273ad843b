#include "core/scheduling/task_listing.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace batchd::core {
namespace {

bool Selected(const TaskListQuery& query, TaskState state) {
  return query.states.empty() ||
         std::find(query.states.begin(), query.states.end(), state) != query.states.end();
}

std::string WaitingForDependencies(const Batch& batch, uint32_t t) {
  const uint32_t remaining = batch.slot(t).remaining_deps;
  std::string out =
      absl::StrCat("waiting for ", remaining, remaining == 1 ? " dependency" : " dependencies");
  size_t listed = 0;
  for (const uint32_t d : batch.graph().Dependencies(t)) {
    if (IsFinal(batch.slot(d).state)) continue;
    if (listed == kMaxListedDependencies) {
      out.append(", ...");
      break;
    }
    absl::StrAppend(&out, listed == 0 ? ": " : ", ", batch.task_id(d));
    ++listed;
  }
  return out;
}

// Why a PENDING task (of an unfinished batch) does not run, most specific first.
std::string WaitingReason(const Batch& batch, uint32_t t, const TaskListingContext& context) {
  const TaskSlot& slot = batch.slot(t);
  if (slot.remaining_deps > 0) return WaitingForDependencies(batch, t);
  if (slot.limit_wait) {
    const std::string* reason = batch.limit_wait_reason(t);
    return reason != nullptr ? *reason : "waiting for a shared limit";
  }
  if (slot.cache == CacheStage::kWaiting) return "waiting for the cached result of another task";
  if (slot.parked) {
    const std::string& name = batch.executor_name(t);
    if (!batch.executor(t)->Unserved().empty()) {
      return absl::StrCat("waiting for a worker serving '", name, "'");
    }
    return absl::StrCat("waiting for a free slot of a worker serving '", name, "'");
  }
  if (batch.running() >= batch.max_concurrent()) {
    return absl::StrCat("waiting for a free slot (max_concurrent ", batch.max_concurrent(), ")");
  }
  if (context.daemon_full) {
    return absl::StrCat("waiting for a free slot (max_running ", context.max_running, ")");
  }
  return "ready to start";
}

std::string RetryingIn(const Batch::RetryWait* wait, SteadyTime now) {
  if (wait == nullptr || wait->due == SteadyTime{}) return "waiting to retry";
  const double seconds = std::max(0.0, ToMillis(wait->due - now) / 1000.0);
  return absl::StrFormat("retrying in %.1f s", seconds);
}

TaskStatus StatusOf(const Batch& batch, uint32_t t, const TaskListingContext& context) {
  TaskStatus s;
  s.task_id = &batch.task_id(t);
  s.executor = &batch.executor_name(t);
  s.priority = batch.priority(t);
  s.layer = batch.graph().LayerOf(t);
  const absl::Span<const uint32_t> deps = batch.graph().Dependencies(t);
  s.dependencies.reserve(deps.size());
  for (const uint32_t d : deps) s.dependencies.push_back(&batch.task_id(d));
  const TaskSlot& slot = batch.slot(t);
  s.state = slot.state;
  s.retry_count = slot.retries;
  if (const TaskResult* result = batch.result(t)) {
    s.result = result;
    s.state = result->state;
    s.retry_count = result->retry_count;
    return s;
  }
  if (batch.finished()) return s;  // not final only while being recorded: nothing to add
  switch (slot.state) {
    case TaskState::kRunning:
      s.started_at = batch.WallAt(slot.attempt_started);
      s.duration_ms = std::max(0.0, ToMillis(context.now - slot.attempt_started));
      if (slot.awaits_client) s.waiting_reason = "awaiting CompleteTask";
      break;
    case TaskState::kRetryWait: {
      const Batch::RetryWait* wait = batch.retry_wait(t);
      if (wait != nullptr) s.error = wait->error;
      s.waiting_reason = RetryingIn(wait, context.now);
      break;
    }
    case TaskState::kPending:
      s.waiting_reason = WaitingReason(batch, t, context);
      break;
    default:
      break;
  }
  return s;
}

}  // namespace

TaskPage ListTasks(const Batch& batch, const TaskListQuery& query,
                   const TaskListingContext& context) {
  TaskPage page;
  page.batch_state = batch.state();
  page.keep_alive = batch.shared_from_this();
  const uint32_t size = batch.size();
  const uint32_t page_size = std::max<uint32_t>(1, query.page_size);
  if (query.states.empty()) {  // no scan: the page is a range of indices
    page.total_size = size;
    const uint32_t end = query.first_task >= size
                             ? size
                             : query.first_task + std::min(page_size, size - query.first_task);
    page.tasks.reserve(end > query.first_task ? end - query.first_task : 0);
    for (uint32_t t = query.first_task; t < end; ++t) {
      page.tasks.push_back(StatusOf(batch, t, context));
    }
    if (end < size) page.next_task = end;
    return page;
  }
  for (uint32_t t = 0; t < size; ++t) {
    const TaskSlot& slot = batch.slot(t);
    if (!Selected(query, slot.state)) continue;
    ++page.total_size;
    if (t < query.first_task || page.next_task.has_value()) continue;
    if (page.tasks.size() < page_size) {
      page.tasks.push_back(StatusOf(batch, t, context));
    } else {
      page.next_task = t;
    }
  }
  return page;
}

}  // namespace batchd::core
