#include "core/journal/journal_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/journal/crc32c.h"
#include "core/journal/journal_events.h"

namespace batchd::core {
namespace {

std::string_view Column(sqlite3_stmt* stmt, int i) {
  const void* data = sqlite3_column_blob(stmt, i);
  const int n = sqlite3_column_bytes(stmt, i);
  return data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), n);
}

// Resets a prepared statement however the step that used it ended.
struct StatementReset {
  sqlite3_stmt* stmt;
  ~StatementReset() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

absl::StatusOr<int> TakeLock(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create data directory '", dir, "': ", ec.message()));
  }
  ::chmod(dir.c_str(), 0700);
  const std::string lock_path = dir + "/LOCK";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open '", lock_path, "': ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char owner[32] = {};
    const ssize_t n = ::pread(fd, owner, sizeof owner - 1, 0);
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory '", dir, "' is in use by another batchd",
        n > 0 ? absl::StrCat(" (pid ", std::string(owner, static_cast<size_t>(n)), ")") : "",
        "; give each daemon its own --data-dir"));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only informational.
  }
  return fd;
}

void AppendLittleEndian(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// Over every column of the row, each string prefixed by its length, so no two rows that differ
// hash the same bytes.
uint32_t BatchRecordCrc(uint64_t seq, std::string_view id, std::string_view request_id,
                        int64_t created_us, std::string_view content) {
  std::string header;
  AppendLittleEndian(header, seq);
  AppendLittleEndian(header, static_cast<uint64_t>(created_us));
  AppendLittleEndian(header, id.size());
  header.append(id);
  AppendLittleEndian(header, request_id.size());
  header.append(request_id);
  return Crc32c(content, Crc32c(header));
}

uint32_t EventRecordCrc(uint64_t seq, std::string_view data) {
  std::string header;
  AppendLittleEndian(header, seq);
  return Crc32c(data, Crc32c(header));
}

uint32_t LimitRecordCrc(std::string_view key, std::string_view spec) {
  std::string header;
  AppendLittleEndian(header, key.size());
  header.append(key);
  return Crc32c(spec, Crc32c(header));
}

uint32_t CacheRecordCrc(std::string_view key, std::string_view name_space, int64_t expires_us,
                        std::string_view entry) {
  std::string header;
  AppendLittleEndian(header, static_cast<uint64_t>(expires_us));
  AppendLittleEndian(header, key.size());
  header.append(key);
  AppendLittleEndian(header, name_space.size());
  header.append(name_space);
  return Crc32c(entry, Crc32c(header));
}

}  // namespace

absl::StatusOr<Durability> ParseDurability(std::string_view name) {
  if (std::optional<Durability> durability = kDurabilityNames.Parse(name)) return *durability;
  return absl::InvalidArgumentError(absl::StrCat("invalid --durability '", std::string(name),
                                                 "': expected ", kDurabilityNames.Choices()));
}

const char* DurabilityName(Durability d) { return kDurabilityNames.Name(d); }

absl::StatusOr<std::unique_ptr<JournalStore>> JournalStore::Open(const std::string& dir,
                                                                 JournalStoreOptions options) {
  ASSIGN_OR_RETURN(const int lock_fd, TakeLock(dir));
  const std::string path = dir + "/journal.db";
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<JournalStore> store(
      new JournalStore(path, lock_fd, db, std::move(options.page_limit_file)));
  if (rc != SQLITE_OK) return store->Error("cannot open the journal");
  const char* sync = options.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                             : "PRAGMA synchronous=NORMAL";
  for (const char* sql : {"PRAGMA journal_mode=WAL", sync, "PRAGMA journal_size_limit=67108864",
                          "PRAGMA busy_timeout=5000"}) {
    RETURN_IF_ERROR(store->Exec(sql));
  }
  RETURN_IF_ERROR(store->Migrate());
  RETURN_IF_ERROR(store->Prepare());
  return store;
}

JournalStore::JournalStore(std::string path, int lock_fd, sqlite3* db, std::string page_limit_file)
    : path_(std::move(path)),
      lock_fd_(lock_fd),
      db_(db),
      page_limit_file_(std::move(page_limit_file)) {}

JournalStore::~JournalStore() {
  for (sqlite3_stmt* s :
       {insert_batch_, insert_events_, delete_batch_, delete_events_, upsert_limit_, upsert_cache_,
        delete_cache_key_, delete_cache_namespace_}) {
    sqlite3_finalize(s);
  }
  sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

absl::Status JournalStore::Error(std::string_view what) const {
  return absl::UnavailableError(absl::StrCat(
      std::string(what), " (", path_, "): ", db_ != nullptr ? sqlite3_errmsg(db_) : "no memory"));
}

absl::Status JournalStore::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Error(absl::StrCat("journal statement failed: ", sql));
  }
  return absl::OkStatus();
}

void JournalStore::RollBack() {
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

absl::Status JournalStore::Migrate() {
  sqlite3_stmt* stmt = nullptr;
  int64_t version = 0;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &stmt, nullptr) != SQLITE_OK) {
    return Error("cannot read the journal's schema version");
  }
  if (sqlite3_step(stmt) == SQLITE_ROW) version = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  if (version > kJournalSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the journal ", path_, " has schema version ", version, ", newer than this batchd's (",
        kJournalSchemaVersion, "): run the batchd that wrote it, or a newer one"));
  }
  if (version == kJournalSchemaVersion) return absl::OkStatus();
  std::vector<std::string> steps = {"BEGIN"};
  if (version < 1) {
    // Schema 0 (batchd before checksums) had the same tables without the crc columns.
    steps.insert(
        steps.end(),
        {"CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
         "request_id TEXT NOT NULL, created_us INTEGER NOT NULL, content BLOB NOT NULL)",
         "CREATE TABLE IF NOT EXISTS events(n INTEGER PRIMARY KEY AUTOINCREMENT, "
         "seq INTEGER NOT NULL, data BLOB NOT NULL)",
         "CREATE INDEX IF NOT EXISTS events_by_batch ON events(seq)",
         "ALTER TABLE batches ADD COLUMN crc INTEGER", "ALTER TABLE events ADD COLUMN crc INTEGER",
         "CREATE TABLE IF NOT EXISTS probe(data BLOB)"});
  }
  if (version < 2) {
    steps.emplace_back(
        "CREATE TABLE IF NOT EXISTS limits(key TEXT PRIMARY KEY, spec BLOB NOT NULL, "
        "crc INTEGER NOT NULL)");
  }
  if (version < 3) {
    steps.insert(steps.end(),
                 {"CREATE TABLE IF NOT EXISTS cache(key BLOB PRIMARY KEY, namespace TEXT NOT NULL, "
                  "expires_us INTEGER NOT NULL, entry BLOB NOT NULL, crc INTEGER NOT NULL)",
                  "CREATE INDEX IF NOT EXISTS cache_by_namespace ON cache(namespace)"});
  }
  steps.push_back(absl::StrCat("PRAGMA user_version=", kJournalSchemaVersion));
  steps.emplace_back("COMMIT");
  for (const std::string& sql : steps) {
    if (absl::Status s = Exec(sql.c_str()); !s.ok()) {
      RollBack();
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status JournalStore::Prepare() {
  const std::pair<sqlite3_stmt**, const char*> statements[] = {
      {&insert_batch_,
       "INSERT OR REPLACE INTO batches(seq, id, request_id, created_us, content, crc) "
       "VALUES(?, ?, ?, ?, ?, ?)"},
      {&insert_events_, "INSERT INTO events(seq, data, crc) VALUES(?, ?, ?)"},
      {&delete_batch_, "DELETE FROM batches WHERE seq = ?"},
      {&delete_events_, "DELETE FROM events WHERE seq = ?"},
      {&upsert_limit_, "INSERT OR REPLACE INTO limits(key, spec, crc) VALUES(?, ?, ?)"},
      // A replaced row is deleted and inserted again: rowid order is the order of storing.
      {&upsert_cache_,
       "INSERT OR REPLACE INTO cache(key, namespace, expires_us, entry, crc) "
       "VALUES(?, ?, ?, ?, ?)"},
      {&delete_cache_key_, "DELETE FROM cache WHERE key = ?"},
      {&delete_cache_namespace_, "DELETE FROM cache WHERE namespace = ?"},
  };
  for (const auto& [stmt, sql] : statements) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
      return Error("cannot prepare the journal's statements");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<JournalContents> JournalStore::LoadAll() {
  JournalContents contents;
  std::vector<StoredBatch>& batches = contents.batches;
  std::map<uint64_t, size_t> index;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT seq, id, request_id, created_us, content, crc FROM batches "
                         "ORDER BY seq",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return Error("cannot read the journal");
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    StoredBatch& b = batches.emplace_back();
    b.record.seq = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    b.record.id = std::string(Column(stmt, 1));
    b.record.request_id = std::string(Column(stmt, 2));
    const int64_t created_us = sqlite3_column_int64(stmt, 3);
    b.record.created_at = JournalTimeFromMicros(created_us);
    b.record.content = std::string(Column(stmt, 4));
    index[b.record.seq] = batches.size() - 1;
    if (sqlite3_column_type(stmt, 5) == SQLITE_NULL) {
      ++contents.unchecked_records;
      continue;
    }
    const auto stored = static_cast<uint32_t>(sqlite3_column_int64(stmt, 5));
    const uint32_t computed = BatchRecordCrc(b.record.seq, b.record.id, b.record.request_id,
                                             created_us, b.record.content);
    if (stored != computed) {
      b.damage = absl::DataLossError(absl::StrFormat(
          "batch %s (journal seq %d): its record fails its checksum (stored %08x, computed %08x)",
          b.record.id, b.record.seq, stored, computed));
    }
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error("cannot read the journal's batches");
  if (sqlite3_prepare_v2(db_, "SELECT seq, data, crc, n FROM events ORDER BY n", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return Error("cannot read the journal");
  }
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    ++contents.event_records;
    const auto seq = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    const std::string_view data = Column(stmt, 1);
    std::optional<uint32_t> mismatch;
    if (sqlite3_column_type(stmt, 2) == SQLITE_NULL) {
      ++contents.unchecked_records;
    } else if (const uint32_t computed = EventRecordCrc(seq, data);
               static_cast<uint32_t>(sqlite3_column_int64(stmt, 2)) != computed) {
      mismatch = computed;
    }
    auto it = index.find(seq);
    if (it == index.end()) {
      // Events of a batch whose record was dropped (retention), unless the seq is the damage.
      if (mismatch.has_value()) {
        contents.orphan_damage.push_back(
            absl::StrCat("event record ", sqlite3_column_int64(stmt, 3), " (journal seq ", seq,
                         ") fails its checksum and names no stored batch"));
      }
      continue;
    }
    StoredBatch& b = batches[it->second];
    if (mismatch.has_value() && b.damage.ok()) {
      b.damage = absl::DataLossError(
          absl::StrFormat("batch %s (journal seq %d): event record %d fails its checksum",
                          b.record.id, seq, sqlite3_column_int64(stmt, 3)));
    }
    b.events.append(data);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error("cannot read the journal's events");
  RETURN_IF_ERROR(LoadLimits(contents));
  RETURN_IF_ERROR(LoadCache(contents));
  return contents;
}

absl::Status JournalStore::LoadCache(JournalContents& contents) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT key, namespace, expires_us, entry, crc FROM cache ORDER BY rowid",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return Error("cannot read the journal");
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    CacheRecord record;
    record.key = std::string(Column(stmt, 0));
    record.name_space = std::string(Column(stmt, 1));
    const int64_t expires_us = sqlite3_column_int64(stmt, 2);
    record.expires_at = JournalTimeFromMicros(expires_us);
    record.entry = std::string(Column(stmt, 3));
    const auto stored = static_cast<uint32_t>(sqlite3_column_int64(stmt, 4));
    if (const uint32_t computed =
            CacheRecordCrc(record.key, record.name_space, expires_us, record.entry);
        stored != computed) {
      contents.cache_damage.push_back(absl::StrFormat(
          "cache entry %s: its journal record fails its checksum (stored %08x, computed %08x) "
          "and is dropped",
          absl::BytesToHexString(record.key), stored, computed));
      contents.damaged_cache_keys.push_back(std::move(record.key));
      continue;
    }
    contents.cache.push_back(std::move(record));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error("cannot read the journal's cache");
  return absl::OkStatus();
}

absl::Status JournalStore::LoadLimits(JournalContents& contents) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT key, spec, crc FROM limits ORDER BY key", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return Error("cannot read the journal");
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    LimitRecord record{std::string(Column(stmt, 0)), std::string(Column(stmt, 1))};
    const auto stored = static_cast<uint32_t>(sqlite3_column_int64(stmt, 2));
    if (const uint32_t computed = LimitRecordCrc(record.key, record.spec); stored != computed) {
      contents.limit_damage.push_back(absl::StrFormat(
          "run-time limit '%s': its journal record fails its checksum (stored %08x, computed "
          "%08x) and is ignored: the limits file's setting of the key applies",
          absl::CHexEscape(record.key), stored, computed));
      continue;
    }
    contents.limits.push_back(std::move(record));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error("cannot read the journal's limits");
  return absl::OkStatus();
}

absl::Status JournalStore::QuickCheck() {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::DataLossError(
        absl::StrCat("journal ", path_, " cannot be checked: ", sqlite3_errmsg(db_)));
  }
  std::vector<std::string> lines;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) lines.emplace_back(Column(stmt, 0));
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    return absl::DataLossError(
        absl::StrCat("journal ", path_, " fails quick_check: ", sqlite3_errmsg(db_)));
  }
  if (lines.size() == 1 && lines[0] == "ok") return absl::OkStatus();
  if (lines.size() > 5) lines.resize(5);
  return absl::DataLossError(
      absl::StrCat("journal ", path_, " fails quick_check: ", absl::StrJoin(lines, "; ")));
}

void JournalStore::ApplyPageLimit() {
  if (page_limit_file_.empty()) return;
  std::ifstream in(page_limit_file_);
  int64_t pages = -1;
  if (!(in >> pages) || pages == page_limit_) return;
  page_limit_ = pages;
  sqlite3_exec(db_, absl::StrCat("PRAGMA max_page_count=", pages).c_str(), nullptr, nullptr,
               nullptr);
}

absl::Status JournalStore::Probe() {
  ApplyPageLimit();
  // Needs a fresh page like a real write would; leaves the page free for the next one.
  for (const char* sql :
       {"BEGIN", "INSERT INTO probe(data) VALUES(zeroblob(8192))", "DELETE FROM probe", "COMMIT"}) {
    if (absl::Status s = Exec(sql); !s.ok()) {
      RollBack();
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status JournalStore::Write(const std::vector<BatchRecord>& batches,
                                 const std::vector<EventChunk>& chunks,
                                 const std::vector<uint64_t>& forgotten,
                                 const std::vector<LimitRecord>& limits,
                                 const std::vector<CacheRecord>& cache) {
  ApplyPageLimit();
  RETURN_IF_ERROR(Exec("BEGIN"));
  auto step = [](sqlite3_stmt* stmt) {
    StatementReset reset{stmt};
    return sqlite3_step(stmt) == SQLITE_DONE;
  };
  bool ok = true;
  for (const BatchRecord& b : batches) {
    if (!ok) break;
    const int64_t created_us = JournalMicros(b.created_at);
    sqlite3_bind_int64(insert_batch_, 1, static_cast<int64_t>(b.seq));
    sqlite3_bind_text(insert_batch_, 2, b.id.data(), static_cast<int>(b.id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_batch_, 3, b.request_id.data(), static_cast<int>(b.request_id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(insert_batch_, 4, created_us);
    sqlite3_bind_blob64(insert_batch_, 5, b.content.data(), b.content.size(), SQLITE_STATIC);
    sqlite3_bind_int64(insert_batch_, 6,
                       BatchRecordCrc(b.seq, b.id, b.request_id, created_us, b.content));
    ok = step(insert_batch_);
  }
  for (const EventChunk& c : chunks) {
    if (!ok) break;
    sqlite3_bind_int64(insert_events_, 1, static_cast<int64_t>(c.batch_seq));
    sqlite3_bind_blob64(insert_events_, 2, c.events.data(), c.events.size(), SQLITE_STATIC);
    sqlite3_bind_int64(insert_events_, 3, EventRecordCrc(c.batch_seq, c.events));
    ok = step(insert_events_);
  }
  for (uint64_t seq : forgotten) {
    if (!ok) break;
    sqlite3_bind_int64(delete_events_, 1, static_cast<int64_t>(seq));
    ok = step(delete_events_);
    sqlite3_bind_int64(delete_batch_, 1, static_cast<int64_t>(seq));
    ok = ok && step(delete_batch_);
  }
  for (const LimitRecord& l : limits) {
    if (!ok) break;
    sqlite3_bind_text(upsert_limit_, 1, l.key.data(), static_cast<int>(l.key.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob64(upsert_limit_, 2, l.spec.data(), l.spec.size(), SQLITE_STATIC);
    sqlite3_bind_int64(upsert_limit_, 3, LimitRecordCrc(l.key, l.spec));
    ok = step(upsert_limit_);
  }
  for (const CacheRecord& c : cache) {
    if (!ok) break;
    ok = WriteCache(c);
  }
  absl::Status status = ok ? Exec("COMMIT") : Error("journal write failed");
  if (!status.ok()) RollBack();
  return status;
}

bool JournalStore::WriteCache(const CacheRecord& c) {
  auto step = [](sqlite3_stmt* stmt) {
    StatementReset reset{stmt};
    return sqlite3_step(stmt) == SQLITE_DONE;
  };
  switch (c.kind) {
    case CacheRecord::Kind::kPut: {
      const int64_t expires_us = JournalMicros(c.expires_at);
      sqlite3_bind_blob64(upsert_cache_, 1, c.key.data(), c.key.size(), SQLITE_STATIC);
      sqlite3_bind_text(upsert_cache_, 2, c.name_space.data(),
                        static_cast<int>(c.name_space.size()), SQLITE_STATIC);
      sqlite3_bind_int64(upsert_cache_, 3, expires_us);
      sqlite3_bind_blob64(upsert_cache_, 4, c.entry.data(), c.entry.size(), SQLITE_STATIC);
      sqlite3_bind_int64(upsert_cache_, 5,
                         CacheRecordCrc(c.key, c.name_space, expires_us, c.entry));
      return step(upsert_cache_);
    }
    case CacheRecord::Kind::kErase:
      sqlite3_bind_blob64(delete_cache_key_, 1, c.key.data(), c.key.size(), SQLITE_STATIC);
      return step(delete_cache_key_);
    case CacheRecord::Kind::kEraseNamespace:
      sqlite3_bind_text(delete_cache_namespace_, 1, c.name_space.data(),
                        static_cast<int>(c.name_space.size()), SQLITE_STATIC);
      return step(delete_cache_namespace_);
    case CacheRecord::Kind::kClear:
      return Exec("DELETE FROM cache").ok();
  }
  return false;
}

}  // namespace batchd::core
