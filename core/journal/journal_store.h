// The journal's storage: one SQLite database in WAL mode inside the daemon's data directory,
// guarded by an exclusive lock file so two daemons never share it. Every row carries a CRC-32C
// of its bytes, checked when read back. Synchronous and not thread-safe: GroupCommitJournal
// drives it from its writer thread (tests call it directly).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/enum_name.h"
#include "core/journal/journal.h"
#include "core/journal/journal_storage.h"

struct sqlite3;
struct sqlite3_stmt;

namespace batchd::core {

// none: no journal; normal: survives a crash of the process (WAL, no fsync per commit);
// full: also survives power loss (fsync per commit).
enum class Durability : uint8_t { kNone, kNormal, kFull };
inline constexpr auto kDurabilityNames = MakeEnumNames<Durability>(
    {
        {Durability::kNone, "none"},
        {Durability::kNormal, "normal"},
        {Durability::kFull, "full"},
    },
    "?");

// INVALID_ARGUMENT naming the accepted values.
absl::StatusOr<Durability> ParseDurability(std::string_view name);
const char* DurabilityName(Durability d);

// The schema this batchd writes; a journal with a newer one is refused (an older batchd would
// not see run-time limits and bring deleted ones back). 0: no checksums; 1: checksums; 2: the
// limits table; 3: the result cache's table. Older journals are migrated when opened.
inline constexpr int kJournalSchemaVersion = 3;

struct JournalStoreOptions {
  Durability durability = Durability::kNormal;
  // Tests only: a file holding a page count applied as SQLite's max_page_count before each
  // write, so a test can make the journal "full" and grow it again without a restart.
  std::string page_limit_file;
};

// What LoadAll read back.
struct JournalContents {
  std::vector<StoredBatch> batches;  // in admission order; see StoredBatch::damage
  uint64_t event_records = 0;
  uint64_t unchecked_records = 0;  // written before checksums existed (schema 0)
  // Event records that fail their checksum and name no stored batch (their batch id may be
  // what was damaged).
  std::vector<std::string> orphan_damage;
  // The newest run-time change of each limit key, ordered by key (tombstones included).
  std::vector<LimitRecord> limits;
  // Limit records that fail their checksum, one message each: they are not in `limits`, so
  // the limits file's setting of that key applies (the daemon logs these).
  std::vector<std::string> limit_damage;
  // The result cache's entries (kPut records), the least recently stored first; expired ones
  // included (whoever restores them drops those).
  std::vector<CacheRecord> cache;
  // Cache rows that fail their checksum: one message each, and their keys (as stored) so the
  // restorer can delete them. They are not in `cache`.
  std::vector<std::string> cache_damage;
  std::vector<std::string> damaged_cache_keys;
};

class JournalStore final : public JournalStorage {
 public:
  // Creates `dir` (0700) when missing and takes its lock: FAILED_PRECONDITION when another
  // process holds it or the journal's schema is newer than this batchd's, UNAVAILABLE when
  // the directory or database cannot be used.
  static absl::StatusOr<std::unique_ptr<JournalStore>> Open(const std::string& dir,
                                                            JournalStoreOptions options);
  static absl::StatusOr<std::unique_ptr<JournalStore>> Open(const std::string& dir,
                                                            Durability durability) {
    return Open(dir, JournalStoreOptions{durability, {}});
  }
  ~JournalStore() override;
  JournalStore(const JournalStore&) = delete;
  JournalStore& operator=(const JournalStore&) = delete;

  // Every stored batch in admission order, with its events in append order; a batch any of
  // whose records fails its checksum carries DATA_LOSS in `damage`.
  absl::StatusOr<JournalContents> LoadAll();
  // SQLite's PRAGMA quick_check: OK, or DATA_LOSS with what it found.
  absl::Status QuickCheck();
  absl::Status Write(const std::vector<BatchRecord>& batches, const std::vector<EventChunk>& chunks,
                     const std::vector<uint64_t>& forgotten, const std::vector<LimitRecord>& limits,
                     const std::vector<CacheRecord>& cache) override;
  // The same with no cache records.
  absl::Status Write(const std::vector<BatchRecord>& batches, const std::vector<EventChunk>& chunks,
                     const std::vector<uint64_t>& forgotten,
                     const std::vector<LimitRecord>& limits) {
    return Write(batches, chunks, forgotten, limits, {});
  }
  absl::Status Probe() override;

  const std::string& path() const { return path_; }

 private:
  JournalStore(std::string path, int lock_fd, sqlite3* db, std::string page_limit_file);
  absl::Status Migrate();
  absl::Status LoadLimits(JournalContents& contents);
  absl::Status LoadCache(JournalContents& contents);
  bool WriteCache(const CacheRecord& record);
  absl::Status Prepare();
  absl::Status Exec(const char* sql);
  absl::Status Error(std::string_view what) const;
  // Ends a transaction whose statement failed (SQLite may have rolled it back already).
  void RollBack();
  void ApplyPageLimit();

  std::string path_;
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  std::string page_limit_file_;
  int64_t page_limit_ = -1;
  sqlite3_stmt* insert_batch_ = nullptr;
  sqlite3_stmt* insert_events_ = nullptr;
  sqlite3_stmt* delete_batch_ = nullptr;
  sqlite3_stmt* delete_events_ = nullptr;
  sqlite3_stmt* upsert_limit_ = nullptr;
  sqlite3_stmt* upsert_cache_ = nullptr;
  sqlite3_stmt* delete_cache_key_ = nullptr;
  sqlite3_stmt* delete_cache_namespace_ = nullptr;
};

}  // namespace batchd::core
