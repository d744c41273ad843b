// What the scheduler records so that accepted batches survive a restart or a crash, and how it
// learns that a record is durable. Implementations are thread-safe: the scheduler appends from
// its strand, Submit from RPC threads; durability is reported later from the journal's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "core/time/clock.h"

namespace batchd::core {

// The durable form of an admitted batch. `content` is the client's request as the server
// encoded it (opaque to core); the server decodes it again when the batch is recovered.
struct BatchRecord {
  uint64_t seq = 0;
  std::string id;
  std::string request_id;  // empty: none
  WallTime created_at{};
  std::string content;
};

struct TaskResult;

// A final result whose encoding belongs at byte `offset` of its chunk's `events`. The scheduler
// hands the immutable result over and the journal's thread encodes it (EncodeDeferredResults,
// core/journal/journal_events.h), so the strand does not serialise outputs.
struct DeferredResult {
  size_t offset = 0;
  const TaskResult* result = nullptr;
};

// Events of one batch appended in one scheduler turn (encoded by core/journal/journal_events.h),
// with what becomes readable once they are durable. A Journal encodes `results` into `events`
// before it stores them.
struct EventChunk {
  uint64_t batch_seq = 0;
  std::string events;
  uint64_t visible_results = 0;              // results readers may see once this chunk is durable
  bool finished = false;                     // the batch finished in (or before) this chunk
  uint64_t number = 0;                       // the batch's chunks are numbered from 1
  std::vector<DeferredResult> results{};     // in offset order
  std::shared_ptr<const void> keep_alive{};  // owns what `results` point to
};

// Reported once every chunk up to and including this one of its batch is durable.
struct DurableMark {
  uint64_t batch_seq = 0;
  uint64_t visible_results = 0;
  bool finished = false;
  uint64_t chunk = 0;  // the chunk's number
};

// A batch read back at start-up: its record and every event chunk in append order.
struct StoredBatch {
  BatchRecord record;
  std::string events;  // concatenated chunks
  // DATA_LOSS when a stored record of this batch fails its checksum: it must not be replayed.
  absl::Status damage;
};

// A shared limit changed at run time, kept so the change outlives a restart (the newest record
// of a key wins). `spec` is opaque here: core/limits encodes and decodes it
// (core/limits/limit_records.h), so the journal stores bytes and needs nothing of limits. An
// empty `spec` is a tombstone: the key was deleted at run time, and stays deleted even when the
// limits file names it.
struct LimitRecord {
  std::string key;
  std::string spec;

  bool operator==(const LimitRecord&) const = default;
};

// A change of the result cache, kept so cached results outlive a restart (core/cache encodes
// and decodes `entry`: core/cache/cache_records.h; the journal stores bytes). kPut stores or
// replaces the entry of `key`, filed under `name_space` until `expires_at`; kErase drops `key`;
// kEraseNamespace drops every entry of `name_space`; kClear drops every entry.
struct CacheRecord {
  enum class Kind : uint8_t { kPut, kErase, kEraseNamespace, kClear };
  Kind kind = Kind::kPut;
  std::string key;         // kPut, kErase: the key's digest (32 bytes)
  std::string name_space;  // kPut, kEraseNamespace
  WallTime expires_at{};   // kPut
  std::string entry;       // kPut

  bool operator==(const CacheRecord&) const = default;
};

class Journal {
 public:
  using DurableListener = absl::AnyInvocable<void(std::vector<DurableMark>)>;
  // OK when records can be stored, else why not (the disk is full, the database is gone).
  using WritableListener = absl::AnyInvocable<void(absl::Status)>;

  virtual ~Journal() = default;

  // Appends the batch's record and calls `stored` once, from any thread (possibly at once):
  // OK when the record is durable, UNAVAILABLE when it could not be stored — the batch is then
  // not accepted and nothing of it may run.
  virtual void AppendBatch(BatchRecord record, absl::AnyInvocable<void(absl::Status)> stored) = 0;
  // Stores a run-time limit change, in order with the other writes, and calls `stored` once,
  // from any thread (possibly at once): OK when the record is durable, UNAVAILABLE when it
  // could not be stored -- the change must then not take effect (the caller reports it).
  virtual void StoreLimit(LimitRecord record, absl::AnyInvocable<void(absl::Status)> stored) = 0;
  // Stores result cache changes, in order with the other writes. Nothing is answered: a put
  // that cannot be stored is dropped (that entry is not there after a restart: a miss, never a
  // wrong hit), a deletion is kept and stored later, like event chunks, so what was dropped
  // from the cache does not come back.
  virtual void StoreCache(std::vector<CacheRecord> records) = 0;
  // Appends event chunks; their DurableMarks reach the listener once durable. Chunks that
  // cannot be stored yet are kept and stored later, in order.
  virtual void AppendEvents(std::vector<EventChunk> chunks) = 0;
  // Drops a batch and its events (retention expired).
  virtual void Forget(uint64_t batch_seq) = 0;
  // Where DurableMarks go; set once, before the first AppendEvents.
  virtual void SetDurableListener(DurableListener listener) = 0;
  // Told each time the journal starts or stops being able to store records; set once, before
  // the first append.
  virtual void SetWritableListener(WritableListener listener) = 0;
};

}  // namespace batchd::core
