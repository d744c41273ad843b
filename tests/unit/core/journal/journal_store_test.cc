#include "core/journal/journal_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::HasSubstr;

class JournalStoreTest : public ::testing::Test {
 protected:
  JournalStoreTest() {
    std::string pattern = ::testing::TempDir() + "journal-XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
  }
  ~JournalStoreTest() override { std::filesystem::remove_all(dir_); }

  static BatchRecord Record(uint64_t seq, std::string request_id = "") {
    return BatchRecord{seq, "id" + std::to_string(seq), std::move(request_id),
                       WallTime(std::chrono::microseconds(1000 + seq)),
                       std::string("content\0with nul", 16)};
  }

  // Runs `sql` on the journal file directly, as damage or an older batchd would.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/journal.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  static CacheRecord Put(std::string key, std::string name_space, std::string entry) {
    CacheRecord r;
    r.key = std::move(key);
    r.name_space = std::move(name_space);
    r.expires_at = WallTime(std::chrono::seconds(1'900'000'000));
    r.entry = std::move(entry);
    return r;
  }
  static CacheRecord Erase(CacheRecord::Kind kind, std::string key_or_namespace) {
    CacheRecord r;
    r.kind = kind;
    (kind == CacheRecord::Kind::kErase ? r.key : r.name_space) = std::move(key_or_namespace);
    return r;
  }
  absl::StatusOr<JournalContents> Reopened() {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    if (!store.ok()) return store.status();
    return (*store)->LoadAll();
  }

  std::string dir_;
};

TEST_F(JournalStoreTest, WhatIsWrittenIsReadBackInOrderAfterReopening) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write({Record(2, "req"), Record(1)}, {}, {}, {}).ok());
    ASSERT_TRUE(
        (*store)
            ->Write({}, {{2, "ab", 1, false}, {1, "x", 0, false}, {2, "cd", 2, true}}, {}, {})
            .ok());
  }
  absl::StatusOr<std::unique_ptr<JournalStore>> store = JournalStore::Open(dir_, Durability::kFull);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok()) << contents.status();
  const std::vector<StoredBatch>* batches = &contents->batches;
  ASSERT_EQ(batches->size(), 2u);
  EXPECT_TRUE((*batches)[0].damage.ok());
  EXPECT_TRUE((*batches)[1].damage.ok());
  EXPECT_EQ(contents->event_records, 3u);
  EXPECT_EQ(contents->unchecked_records, 0u);
  EXPECT_EQ((*batches)[0].record.seq, 1u);
  EXPECT_EQ((*batches)[0].events, "x");
  EXPECT_EQ((*batches)[1].record.seq, 2u);
  EXPECT_EQ((*batches)[1].record.id, "id2");
  EXPECT_EQ((*batches)[1].record.request_id, "req");
  EXPECT_EQ((*batches)[1].record.created_at, WallTime(std::chrono::microseconds(1002)));
  EXPECT_EQ((*batches)[1].record.content, std::string("content\0with nul", 16));
  EXPECT_EQ((*batches)[1].events, "abcd");
}

TEST_F(JournalStoreTest, ForgottenBatchesAndTheirEventsAreGone) {
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(
      (*store)->Write({Record(1), Record(2)}, {{1, "a", 1, true}, {2, "b", 1, true}}, {}, {}).ok());
  ASSERT_TRUE((*store)->Write({}, {}, {1}, {}).ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  const std::vector<StoredBatch>* batches = &contents->batches;
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].record.seq, 2u);
}

TEST_F(JournalStoreTest, SecondOpenOfTheSameDirectoryIsRefusedNamingIt) {
  absl::StatusOr<std::unique_ptr<JournalStore>> first =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<JournalStore>> second =
      JournalStore::Open(dir_, Durability::kNormal);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            "data directory '" + dir_ + "' is in use by another batchd (pid " +
                std::to_string(::getpid()) + "); give each daemon its own --data-dir");
  first->reset();
  EXPECT_TRUE(JournalStore::Open(dir_, Durability::kNormal).ok());
}

TEST_F(JournalStoreTest, UnusableDirectoryIsUnavailableNamingIt) {
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open("/proc/no-such-dir/journal", Durability::kNormal);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(),
              HasSubstr("cannot create data directory '/proc/no-such-dir/journal'"));
}

// Damage that still parses: a changed byte in a batch's request, in a number, in an event.
TEST_F(JournalStoreTest, RecordsThatFailTheirChecksumAreReportedAsDataLossNamingTheBatch) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->Write({Record(1), Record(2), Record(3)},
                            {{1, "a", 1, false}, {2, "b", 1, false}, {3, "c", 1, false}}, {}, {})
                    .ok());
  }
  Tamper(
      "UPDATE batches SET content = CAST('Content' AS BLOB) || substr(content, 8) WHERE seq = 1");
  Tamper("UPDATE batches SET created_us = created_us + 1 WHERE seq = 2");
  Tamper("UPDATE events SET data = CAST('C' AS BLOB) WHERE seq = 3");
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->QuickCheck().ok());  // the database itself is sound
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->batches.size(), 3u);
  for (const StoredBatch& b : contents->batches) {
    EXPECT_EQ(b.damage.code(), absl::StatusCode::kDataLoss) << b.record.id;
  }
  EXPECT_THAT(std::string(contents->batches[0].damage.message()),
              ::testing::StartsWith("batch id1 (journal seq 1): its record fails its checksum"));
  EXPECT_THAT(std::string(contents->batches[1].damage.message()),
              ::testing::StartsWith("batch id2 (journal seq 2): its record fails its checksum"));
  EXPECT_EQ(contents->batches[2].damage.message(),
            "batch id3 (journal seq 3): event record 3 fails its checksum");
}

TEST_F(JournalStoreTest, AnEventWhoseBatchSeqWasDamagedIsReportedAsAnOrphan) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Write({Record(1)}, {{1, "a", 1, false}}, {}, {}).ok());
  }
  Tamper("UPDATE events SET seq = 9 WHERE seq = 1");
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  EXPECT_THAT(contents->orphan_damage,
              ::testing::ElementsAre(
                  "event record 1 (journal seq 9) fails its checksum and names no stored batch"));
}

TEST_F(JournalStoreTest, AJournalWithoutChecksumsIsMigratedAndItsOldRecordsReadUnchecked) {
  // The schema batchd wrote before checksums (user_version 0).
  ::mkdir(dir_.c_str(), 0700);
  Tamper(
      "CREATE TABLE batches(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, request_id TEXT NOT "
      "NULL, created_us INTEGER NOT NULL, content BLOB NOT NULL);"
      "CREATE TABLE events(n INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, data "
      "BLOB NOT NULL);"
      "INSERT INTO batches VALUES(1, 'old', '', 5, x'00');"
      "INSERT INTO events(seq, data) VALUES(1, x'01')");
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Write({Record(2)}, {{2, "b", 1, false}}, {}, {}).ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->batches.size(), 2u);
  EXPECT_EQ(contents->batches[0].record.id, "old");
  EXPECT_TRUE(contents->batches[0].damage.ok());
  EXPECT_TRUE(contents->batches[1].damage.ok());
  EXPECT_EQ(contents->unchecked_records, 2u);
}

TEST_F(JournalStoreTest, AJournalFromANewerBatchdIsRefusedNamingBothVersions) {
  ASSERT_TRUE(JournalStore::Open(dir_, Durability::kNormal).ok());
  Tamper("PRAGMA user_version=7");
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            "the journal " + dir_ +
                "/journal.db has schema version 7, newer than this batchd's "
                "(3): run the batchd that wrote it, or a newer one");
}

// The test-only page limit stands for a full disk: writes and probes fail with SQLite's own
// "database or disk is full", nothing of the failed group is stored, and raising the limit
// lets both succeed again on the same open store.
TEST_F(JournalStoreTest, AFullJournalFailsWritesWholeAndTakesThemAgainOnceItGrows) {
  const std::string limit = dir_ + "-pages";
  std::ofstream(limit) << 1000;
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, JournalStoreOptions{Durability::kNormal, limit});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Write({Record(1)}, {}, {}, {}).ok());
  std::ofstream(limit) << 1;  // below the current size: SQLite keeps it at the current size
  const std::string big(64 << 10, 'x');
  absl::Status full = (*store)->Write({Record(2)}, {{1, big, 1, false}}, {}, {{"k", "spec"}});
  EXPECT_EQ(full.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(full.message(), HasSubstr("database or disk is full"));
  EXPECT_EQ((*store)->Probe().code(), absl::StatusCode::kUnavailable);
  std::ofstream(limit) << 100000;
  EXPECT_TRUE((*store)->Probe().ok());
  ASSERT_TRUE((*store)->Write({Record(3)}, {{1, "e", 1, false}}, {}, {}).ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->batches.size(), 2u);  // 2 was never stored
  EXPECT_EQ(contents->batches[0].record.seq, 1u);
  EXPECT_EQ(contents->batches[0].events, "e");
  EXPECT_EQ(contents->batches[1].record.seq, 3u);
  EXPECT_THAT(contents->limits, ::testing::IsEmpty());  // the failed group's limit neither
  std::filesystem::remove(limit);
}

// Run-time limit changes: the newest record of each key, by key, tombstones included.
TEST_F(JournalStoreTest, LimitRecordsAreReadBackByKeyAfterReopeningTheNewestOfEachKeyWinning) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Write({}, {}, {}, {{"tenant:42", "t1"}, {"openai", "o1"}}).ok());
    // A later record of a key replaces it, in the same group too; "" is a tombstone.
    ASSERT_TRUE((*store)
                    ->Write({Record(1)}, {}, {},
                            {{"openai", "o2"},
                             {"tenant:42", ""},
                             {std::string("b\0x", 3), "nul"},
                             {"openai", "o3"}})
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->limits,
              ::testing::ElementsAre(LimitRecord{std::string("b\0x", 3), "nul"},
                                     LimitRecord{"openai", "o3"}, LimitRecord{"tenant:42", ""}));
  EXPECT_THAT(contents->limit_damage, ::testing::IsEmpty());
  EXPECT_EQ(contents->batches.size(), 1u);
}

TEST_F(JournalStoreTest, ALimitRecordThatFailsItsChecksumIsLeftOutAndReported) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Write({}, {}, {}, {{"a", "spec-a"}, {"b", "spec-b"}, {"c", ""}}).ok());
  }
  Tamper("UPDATE limits SET spec = CAST('spec-A' AS BLOB) WHERE key = 'a'");
  Tamper("UPDATE limits SET spec = CAST('x' AS BLOB) WHERE key = 'c'");  // a tombstone undone
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  EXPECT_THAT(contents->limits, ::testing::ElementsAre(LimitRecord{"b", "spec-b"}));
  ASSERT_EQ(contents->limit_damage.size(), 2u);
  EXPECT_THAT(contents->limit_damage[0],
              ::testing::MatchesRegex(
                  "run-time limit 'a': its journal record fails its checksum \\(stored "
                  "[0-9a-f]{8}, computed [0-9a-f]{8}\\) and is ignored: the limits file's "
                  "setting of the key applies"));
  EXPECT_THAT(contents->limit_damage[1], ::testing::StartsWith("run-time limit 'c': "));
}

// The statements batchd wrote schema 1 with, before the limits table.
TEST_F(JournalStoreTest, ASchema1JournalIsMigratedKeepingItsBatchesAndThenStoresLimits) {
  ::mkdir(dir_.c_str(), 0700);
  Tamper(
      "CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
      "request_id TEXT NOT NULL, created_us INTEGER NOT NULL, content BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS events(n INTEGER PRIMARY KEY AUTOINCREMENT, "
      "seq INTEGER NOT NULL, data BLOB NOT NULL);"
      "CREATE INDEX IF NOT EXISTS events_by_batch ON events(seq);"
      "ALTER TABLE batches ADD COLUMN crc INTEGER;"
      "ALTER TABLE events ADD COLUMN crc INTEGER;"
      "CREATE TABLE IF NOT EXISTS probe(data BLOB);"
      "PRAGMA user_version=1;");
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write({Record(1)}, {{1, "e", 1, false}}, {}, {}).ok());
  }
  // Reopened as a schema-1 journal that already holds records.
  Tamper("DROP TABLE limits; PRAGMA user_version=1");
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write({}, {}, {}, {{"openai", "o"}}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/journal.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kJournalSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<JournalStore>> store =
      JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<JournalContents> contents = (*store)->LoadAll();
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->batches.size(), 1u);
  EXPECT_TRUE(contents->batches[0].damage.ok());
  EXPECT_EQ(contents->batches[0].events, "e");
  EXPECT_EQ(contents->unchecked_records, 0u);
  EXPECT_THAT(contents->limits, ::testing::ElementsAre(LimitRecord{"openai", "o"}));
}

TEST_F(JournalStoreTest, CacheEntriesAreReadBackInTheOrderStoredAfterDeletionsAndAClear) {
  using Kind = CacheRecord::Kind;
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(
        (*store)
            ->Write({}, {}, {}, {},
                    {Put("k1", "a", "e1"), Put("k2", "b", "e2"), Put("k3", "a", "e3"),
                     Put("k4", "b", "e4"), Put("k1", "a", "e1'"), Erase(Kind::kErase, "k3")})
            .ok());
  }
  absl::StatusOr<JournalContents> contents = Reopened();
  ASSERT_TRUE(contents.ok()) << contents.status();
  // A replaced entry counts as stored last.
  EXPECT_THAT(contents->cache, ::testing::ElementsAre(Put("k2", "b", "e2"), Put("k4", "b", "e4"),
                                                      Put("k1", "a", "e1'")));
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Write({}, {}, {}, {}, {Erase(Kind::kEraseNamespace, "b")}).ok());
  }
  contents = Reopened();
  ASSERT_TRUE(contents.ok());
  EXPECT_THAT(contents->cache, ::testing::ElementsAre(Put("k1", "a", "e1'")));
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    CacheRecord clear;
    clear.kind = Kind::kClear;
    ASSERT_TRUE((*store)->Write({}, {}, {}, {}, {clear, Put("k5", "", "e5")}).ok());
  }
  contents = Reopened();
  ASSERT_TRUE(contents.ok());
  EXPECT_THAT(contents->cache, ::testing::ElementsAre(Put("k5", "", "e5")));
  EXPECT_THAT(contents->cache_damage, ::testing::IsEmpty());
}

TEST_F(JournalStoreTest, ACacheEntryThatFailsItsChecksumIsLeftOutAndItsKeyReported) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Write({}, {}, {}, {}, {Put("k1", "a", "e1"), Put("k2", "a", "e2")}).ok());
  }
  Tamper("UPDATE cache SET expires_us = expires_us + 1 WHERE key = CAST('k1' AS BLOB)");
  absl::StatusOr<JournalContents> contents = Reopened();
  ASSERT_TRUE(contents.ok());
  EXPECT_THAT(contents->cache, ::testing::ElementsAre(Put("k2", "a", "e2")));
  EXPECT_THAT(contents->damaged_cache_keys, ::testing::ElementsAre("k1"));
  ASSERT_EQ(contents->cache_damage.size(), 1u);
  EXPECT_THAT(contents->cache_damage[0],
              ::testing::MatchesRegex("cache entry 6b31: its journal record fails its checksum "
                                      "\\(stored [0-9a-f]{8}, computed [0-9a-f]{8}\\) and is "
                                      "dropped"));
}

TEST_F(JournalStoreTest, ASchema2JournalGainsTheCacheTable) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Write({Record(1)}, {}, {}, {{"openai", "o"}}).ok());
  }
  Tamper("DROP TABLE cache; PRAGMA user_version=2");
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store =
        JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write({}, {}, {}, {}, {Put("k", "", "e")}).ok());
  }
  absl::StatusOr<JournalContents> contents = Reopened();
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->batches.size(), 1u);
  EXPECT_THAT(contents->limits, ::testing::ElementsAre(LimitRecord{"openai", "o"}));
  EXPECT_THAT(contents->cache, ::testing::ElementsAre(Put("k", "", "e")));
}

TEST(DurabilityTest, NamesParseAndBadOnesAreRejected) {
  EXPECT_EQ(*ParseDurability("none"), Durability::kNone);
  EXPECT_EQ(*ParseDurability("normal"), Durability::kNormal);
  EXPECT_EQ(*ParseDurability("full"), Durability::kFull);
  EXPECT_EQ(ParseDurability("fsync").status().message(),
            "invalid --durability 'fsync': expected none, normal or full");
}

}  // namespace
}  // namespace batchd::core
