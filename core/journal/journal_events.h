// The events a batch's journal records between its admission and its end, and their compact
// binary encoding (varints and length-prefixed strings). Pure functions; no shared state.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/journal/journal.h"
#include "core/model/batch_spec.h"
#include "core/model/task_result.h"
#include "core/time/clock.h"

namespace batchd::core {

enum class JournalEventKind : uint8_t {
  kStarted = 1,    // an attempt started (task, retries so far)
  kRetryWait = 2,  // a retry is due at `at` (task, retries including this one)
  kResult = 3,     // the task's final result
  kCancelled = 4,  // the batch was cancelled (reason)
  kFinished = 5,   // the batch finished at `at`
  kRequeued = 6,   // a started attempt was lost with its worker and waits to run again
  // Follows the kResult of a result served from the cache: the batch and task it came from.
  // Decoded into that result's event (no event of its own).
  kCachedFrom = 7,
  // Follows the kStarted of an attempt a client completes (the external executor): it waits,
  // since `at`, for CompleteTask with `token`. After a restart it waits on with the same token.
  kAwaiting = 8,
  // AddTasks added tasks (request_id in `reason`, the request's durable form in `content`: the
  // server decodes it into `added_tasks` before the batch is restored).
  kAdded = 9,
  kClosed = 10,  // an open batch was closed (CloseBatch, AddTasks with close, or idle)
};

struct JournalEvent {
  JournalEventKind kind = JournalEventKind::kStarted;
  uint32_t task = 0;
  uint32_t retries = 0;
  WallTime at{};
  // kResult only.
  TaskState state = TaskState::kPending;
  double duration_ms = 0;
  WallTime started_at{};
  boost::json::value output;
  std::string error;
  std::string worker_id;
  std::shared_ptr<const CachedFrom> cached_from{};  // a cached result's origin
  // kCancelled only.
  std::string reason;
  // kAwaiting only.
  std::string token;
  // kAdded only.
  std::string content;
  std::shared_ptr<std::vector<TaskSpec>> added_tasks{};
};

// Appenders: each adds one encoded event to `out`.
void EncodeStarted(std::string& out, uint32_t task, uint32_t retries);
void EncodeRequeued(std::string& out, uint32_t task);
void EncodeAwaiting(std::string& out, uint32_t task, WallTime since, std::string_view token);
void EncodeRetryWait(std::string& out, uint32_t task, uint32_t retries, WallTime due);
void EncodeResult(std::string& out, const TaskResult& result);
void EncodeCancelled(std::string& out, std::string_view reason);
void EncodeAdded(std::string& out, std::string_view request_id, std::string_view content);
void EncodeClosed(std::string& out);
void EncodeFinished(std::string& out, WallTime at);
// Puts the encoding of each of `chunk.results` at its offset of `chunk.events`, then lets the
// results go (clears `results` and `keep_alive`). Run on the journal's thread, before storing.
void EncodeDeferredResults(EventChunk& chunk);

// Wall times as the journal stores them: microseconds since the epoch. Read back, they are
// clamped to 1970..2099 so that a corrupt journal cannot overflow the arithmetic that turns
// them into deadlines.
int64_t JournalMicros(WallTime t);
WallTime JournalTimeFromMicros(int64_t us);

// DATA_LOSS naming the offset when `data` is not a sequence of whole, valid events.
absl::StatusOr<std::vector<JournalEvent>> DecodeJournalEvents(std::string_view data);

}  // namespace batchd::core
