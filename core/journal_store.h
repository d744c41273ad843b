// The journal's storage: one SQLite database in WAL mode inside the daemon's data directory,
// guarded by an exclusive lock file so two daemons never share it. Synchronous and not
// thread-safe: GroupCommitJournal drives it from its writer thread (tests call it directly).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/journal.h"

struct sqlite3;
struct sqlite3_stmt;

namespace batchd::core {

// none: no journal; normal: survives a crash of the process (WAL, no fsync per commit);
// full: also survives power loss (fsync per commit).
enum class Durability : uint8_t { kNone, kNormal, kFull };

// INVALID_ARGUMENT naming the accepted values.
absl::StatusOr<Durability> ParseDurability(std::string_view name);
const char* DurabilityName(Durability d);

class JournalStore {
 public:
  // Creates `dir` (0700) when missing and takes its lock: FAILED_PRECONDITION when another
  // process holds it, UNAVAILABLE/INTERNAL when the directory or database cannot be used.
  static absl::StatusOr<std::unique_ptr<JournalStore>> Open(const std::string& dir,
                                                            Durability durability);
  ~JournalStore();
  JournalStore(const JournalStore&) = delete;
  JournalStore& operator=(const JournalStore&) = delete;

  // Every stored batch in admission order, with its events in append order.
  absl::StatusOr<std::vector<StoredBatch>> LoadAll();
  // Writes one group in one transaction: new batches, then event chunks, then forgotten batches.
  absl::Status Write(const std::vector<BatchRecord>& batches, const std::vector<EventChunk>& chunks,
                     const std::vector<uint64_t>& forgotten);

  const std::string& path() const { return path_; }

 private:
  JournalStore(std::string path, int lock_fd, sqlite3* db);
  absl::Status Prepare();
  absl::Status Exec(const char* sql);
  absl::Status Error(std::string_view what) const;

  std::string path_;
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_batch_ = nullptr;
  sqlite3_stmt* insert_events_ = nullptr;
  sqlite3_stmt* delete_batch_ = nullptr;
  sqlite3_stmt* delete_events_ = nullptr;
};

}  // namespace batchd::core
