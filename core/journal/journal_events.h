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
};

// Appenders: each adds one encoded event to `out`.
void EncodeStarted(std::string& out, uint32_t task, uint32_t retries);
void EncodeRequeued(std::string& out, uint32_t task);
void EncodeRetryWait(std::string& out, uint32_t task, uint32_t retries, WallTime due);
void EncodeResult(std::string& out, const TaskResult& result);
void EncodeCancelled(std::string& out, std::string_view reason);
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
