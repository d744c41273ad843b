#include "core/journal_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/journal_events.h"

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

}  // namespace

absl::StatusOr<Durability> ParseDurability(std::string_view name) {
  if (name == "none") return Durability::kNone;
  if (name == "normal") return Durability::kNormal;
  if (name == "full") return Durability::kFull;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --durability '", std::string(name), "': expected none, normal or full"));
}

const char* DurabilityName(Durability d) {
  switch (d) {
    case Durability::kNone:
      return "none";
    case Durability::kNormal:
      return "normal";
    case Durability::kFull:
      return "full";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<JournalStore>> JournalStore::Open(const std::string& dir,
                                                                 Durability durability) {
  absl::StatusOr<int> lock_fd = TakeLock(dir);
  if (!lock_fd.ok()) return lock_fd.status();
  const std::string path = dir + "/journal.db";
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  std::unique_ptr<JournalStore> store(new JournalStore(path, *lock_fd, db));
  if (rc != SQLITE_OK) return store->Error("cannot open the journal");
  const char* sync = durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                      : "PRAGMA synchronous=NORMAL";
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", sync, "PRAGMA journal_size_limit=67108864",
        "PRAGMA busy_timeout=5000",
        "CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
        "request_id TEXT NOT NULL, created_us INTEGER NOT NULL, content BLOB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS events(n INTEGER PRIMARY KEY AUTOINCREMENT, "
        "seq INTEGER NOT NULL, data BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS events_by_batch ON events(seq)"}) {
    if (absl::Status s = store->Exec(sql); !s.ok()) return s;
  }
  if (absl::Status s = store->Prepare(); !s.ok()) return s;
  return store;
}

JournalStore::JournalStore(std::string path, int lock_fd, sqlite3* db)
    : path_(std::move(path)), lock_fd_(lock_fd), db_(db) {}

JournalStore::~JournalStore() {
  for (sqlite3_stmt* s : {insert_batch_, insert_events_, delete_batch_, delete_events_}) {
    sqlite3_finalize(s);
  }
  sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

absl::Status JournalStore::Error(std::string_view what) const {
  return absl::UnavailableError(
      absl::StrCat(std::string(what), " (", path_, "): ", db_ != nullptr ? sqlite3_errmsg(db_) : "no memory"));
}

absl::Status JournalStore::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Error(absl::StrCat("journal statement failed: ", sql));
  }
  return absl::OkStatus();
}

absl::Status JournalStore::Prepare() {
  const std::pair<sqlite3_stmt**, const char*> statements[] = {
      {&insert_batch_,
       "INSERT OR REPLACE INTO batches(seq, id, request_id, created_us, content) "
       "VALUES(?, ?, ?, ?, ?)"},
      {&insert_events_, "INSERT INTO events(seq, data) VALUES(?, ?)"},
      {&delete_batch_, "DELETE FROM batches WHERE seq = ?"},
      {&delete_events_, "DELETE FROM events WHERE seq = ?"},
  };
  for (const auto& [stmt, sql] : statements) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
      return Error("cannot prepare the journal's statements");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredBatch>> JournalStore::LoadAll() {
  std::vector<StoredBatch> batches;
  std::map<uint64_t, size_t> index;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT seq, id, request_id, created_us, content FROM batches "
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
    b.record.created_at = JournalTimeFromMicros(sqlite3_column_int64(stmt, 3));
    b.record.content = std::string(Column(stmt, 4));
    index[b.record.seq] = batches.size() - 1;
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error("cannot read the journal's batches");
  if (sqlite3_prepare_v2(db_, "SELECT seq, data FROM events ORDER BY n", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return Error("cannot read the journal");
  }
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    auto it = index.find(static_cast<uint64_t>(sqlite3_column_int64(stmt, 0)));
    if (it == index.end()) continue;  // events of a batch whose record was dropped
    batches[it->second].events.append(Column(stmt, 1));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error("cannot read the journal's events");
  return batches;
}

absl::Status JournalStore::Write(const std::vector<BatchRecord>& batches,
                                 const std::vector<EventChunk>& chunks,
                                 const std::vector<uint64_t>& forgotten) {
  if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
  auto step = [](sqlite3_stmt* stmt) {
    StatementReset reset{stmt};
    return sqlite3_step(stmt) == SQLITE_DONE;
  };
  bool ok = true;
  for (const BatchRecord& b : batches) {
    if (!ok) break;
    sqlite3_bind_int64(insert_batch_, 1, static_cast<int64_t>(b.seq));
    sqlite3_bind_text(insert_batch_, 2, b.id.data(), static_cast<int>(b.id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_batch_, 3, b.request_id.data(), static_cast<int>(b.request_id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(insert_batch_, 4, JournalMicros(b.created_at));
    sqlite3_bind_blob64(insert_batch_, 5, b.content.data(), b.content.size(), SQLITE_STATIC);
    ok = step(insert_batch_);
  }
  for (const EventChunk& c : chunks) {
    if (!ok) break;
    sqlite3_bind_int64(insert_events_, 1, static_cast<int64_t>(c.batch_seq));
    sqlite3_bind_blob64(insert_events_, 2, c.events.data(), c.events.size(), SQLITE_STATIC);
    ok = step(insert_events_);
  }
  for (uint64_t seq : forgotten) {
    if (!ok) break;
    sqlite3_bind_int64(delete_events_, 1, static_cast<int64_t>(seq));
    ok = step(delete_events_);
    sqlite3_bind_int64(delete_batch_, 1, static_cast<int64_t>(seq));
    ok = ok && step(delete_batch_);
  }
  if (!ok) {
    absl::Status error = Error("journal write failed");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return error;
  }
  return Exec("COMMIT");
}

}  // namespace batchd::core
