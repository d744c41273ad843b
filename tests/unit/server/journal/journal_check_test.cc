#include "server/journal/journal_check.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/journal/journal_events.h"
#include "core/journal/journal_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/journal/batch_record_codec.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::StartsWith;

class JournalCheckTest : public ::testing::Test {
 protected:
  JournalCheckTest() {
    std::string pattern = ::testing::TempDir() + "journal-check-XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
  }
  ~JournalCheckTest() override { std::filesystem::remove_all(dir_); }

  static std::string ValidContent() {
    v1::SubmitBatchRequest request;
    request.add_tasks()->set_id("a");
    return EncodeBatchContent(request);
  }
  static std::string ValidEvents() {
    std::string events;
    core::EncodeStarted(events, 0, 0);
    core::EncodeFinished(events, core::WallTime(std::chrono::seconds(1714564800)));
    return events;
  }
  static core::BatchRecord Record(uint64_t seq, std::string content) {
    return core::BatchRecord{seq, "id" + std::to_string(seq), "",
                             core::WallTime(std::chrono::seconds(1714564800)), std::move(content)};
  }

  // Writes `batches` and `chunks` the way the daemon's journal does, then closes the store.
  void Write(const std::vector<core::BatchRecord>& batches,
             const std::vector<core::EventChunk>& chunks) {
    absl::StatusOr<std::unique_ptr<core::JournalStore>> store =
        core::JournalStore::Open(dir_, core::Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write(batches, chunks, {}, {}).ok());
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

  std::string journal() const { return dir_ + "/journal.db"; }

  std::string dir_;
};

TEST_F(JournalCheckTest, AnEmptyDirectoryHoldsAnIntactEmptyJournal) {
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_TRUE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("journal " + journal() + ": 0 batches, 0 event records: intact"));
}

TEST_F(JournalCheckTest, WellFormedBatchesAreIntact) {
  Write({Record(1, ValidContent()), Record(2, ValidContent())},
        {{1, ValidEvents(), 1, true}, {2, "", 0, false}, {2, ValidEvents(), 1, true}});
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_TRUE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("journal " + journal() + ": 2 batches, 3 event records: intact"));
}

TEST_F(JournalCheckTest, ARequestThatDoesNotParseIsDamage) {
  Write({Record(1, ValidContent()), Record(2, std::string(11, '\xFF'))},
        {{1, ValidEvents(), 1, true}});
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("batch id2: DATA_LOSS: journal: a stored batch request does not parse",
                          "journal " + journal() + ": 2 batches, 1 event records: 1 damaged"));
}

TEST_F(JournalCheckTest, ARequestTheDaemonWouldRefuseIsDamage) {
  // Parses, but names an enum value this batchd does not know.
  v1::SubmitBatchRequest request;
  request.add_tasks()->set_id("a");
  request.mutable_options()->set_load_balancer(static_cast<v1::LoadBalancer>(42));
  Write({Record(1, EncodeBatchContent(request))}, {});
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  ASSERT_THAT(check.lines, SizeIs(2));
  EXPECT_THAT(check.lines[0],
              StartsWith("batch id1: INVALID_ARGUMENT: options.load_balancer: unknown value 42"));
  EXPECT_EQ(check.lines[1], "journal " + journal() + ": 1 batches, 0 event records: 1 damaged");
}

TEST_F(JournalCheckTest, EventsThatDoNotDecodeAreDamageNamingTheByte) {
  const std::string valid = ValidEvents();
  Write({Record(1, ValidContent())}, {{1, valid + "\x09", 1, true}});
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("batch id1: DATA_LOSS: Corrupt journal event (kind 9) at byte " +
                              std::to_string(valid.size()),
                          "journal " + journal() + ": 1 batches, 1 event records: 1 damaged"));
}

TEST_F(JournalCheckTest, AnEventRecordFailingItsChecksumIsDamage) {
  Write({Record(1, ValidContent()), Record(2, ValidContent())},
        {{1, ValidEvents(), 1, true}, {2, ValidEvents(), 1, true}});
  Tamper("UPDATE events SET data = x'0100' WHERE n = 2");
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("batch id2: DATA_LOSS: batch id2 (journal seq 2): event record 2 fails "
                          "its checksum",
                          "journal " + journal() + ": 2 batches, 2 event records: 1 damaged"));
}

TEST_F(JournalCheckTest, ABatchRecordFailingItsChecksumIsDamage) {
  Write({Record(1, ValidContent())}, {});
  Tamper("UPDATE batches SET request_id = 'changed' WHERE seq = 1");
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  ASSERT_THAT(check.lines, SizeIs(2));
  EXPECT_THAT(check.lines[0],
              StartsWith("batch id1: DATA_LOSS: batch id1 (journal seq 1): its record fails its "
                         "checksum (stored "));
  EXPECT_EQ(check.lines[1], "journal " + journal() + ": 1 batches, 0 event records: 1 damaged");
}

TEST_F(JournalCheckTest, DamagedEventsOfNoStoredBatchAreCountedToo) {
  Write({Record(1, ValidContent())}, {{1, ValidEvents(), 1, true}});
  Tamper("INSERT INTO events(seq, data, crc) VALUES(99, x'01', 0)");
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("event record 2 (journal seq 99) fails its checksum and names no "
                          "stored batch",
                          "journal " + journal() + ": 1 batches, 2 event records: 1 damaged"));
}

TEST_F(JournalCheckTest, EveryDamagedBatchIsListedInAdmissionOrder) {
  Write({Record(3, std::string(11, '\xFF')), Record(1, ValidContent()),
         Record(2, std::string(11, '\xFF'))},
        {{1, "\x09", 0, false}});
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("batch id1: DATA_LOSS: Corrupt journal event (kind 9) at byte 0",
                          "batch id2: DATA_LOSS: journal: a stored batch request does not parse",
                          "batch id3: DATA_LOSS: journal: a stored batch request does not parse",
                          "journal " + journal() + ": 3 batches, 1 event records: 3 damaged"));
}

TEST_F(JournalCheckTest, RecordsWrittenBeforeChecksumsAreCountedAsUnverifiable) {
  Write({Record(1, ValidContent())}, {{1, ValidEvents(), 1, true}});
  Tamper("UPDATE batches SET crc = NULL; UPDATE events SET crc = NULL");
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_TRUE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("journal " + journal() +
                          ": 1 batches, 1 event records (2 written before checksums, not "
                          "verifiable): intact"));
}

TEST_F(JournalCheckTest, RunTimeLimitChangesAreCountedAndADamagedOneIsReported) {
  {
    absl::StatusOr<std::unique_ptr<core::JournalStore>> store =
        core::JournalStore::Open(dir_, core::Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write({}, {}, {}, {{"openai", "spec-o"}, {"tenant:1", ""}}).ok());
  }
  JournalCheck check = CheckJournal(dir_);
  EXPECT_TRUE(check.intact);
  EXPECT_THAT(check.lines, ElementsAre("journal " + journal() +
                                       ": 0 batches, 0 event records, 2 limit changes: intact"));

  Tamper("UPDATE limits SET spec = CAST('spec-X' AS BLOB) WHERE key = 'openai'");
  check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  ASSERT_THAT(check.lines, SizeIs(2));
  EXPECT_THAT(check.lines[0], StartsWith("run-time limit 'openai': its journal record fails its "
                                         "checksum"));
  EXPECT_EQ(check.lines[1],
            "journal " + journal() + ": 0 batches, 0 event records, 1 limit changes: 1 damaged");
}

TEST_F(JournalCheckTest, AJournalInUseIsNotChecked) {
  absl::StatusOr<std::unique_ptr<core::JournalStore>> daemon =
      core::JournalStore::Open(dir_, core::Durability::kNormal);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const JournalCheck check = CheckJournal(dir_);
  EXPECT_FALSE(check.intact);
  EXPECT_THAT(check.lines,
              ElementsAre("data directory '" + dir_ + "' is in use by another batchd (pid " +
                          std::to_string(::getpid()) + "); give each daemon its own --data-dir"));
}

TEST_F(JournalCheckTest, AnUnusableDirectoryIsReportedAsTheOnlyLine) {
  const std::string file = dir_ + "/plain-file";
  std::ofstream(file) << "not a directory";
  const std::string data_dir = file + "/data";
  const JournalCheck check = CheckJournal(data_dir);
  EXPECT_FALSE(check.intact);
  ASSERT_THAT(check.lines, SizeIs(1));
  EXPECT_THAT(check.lines[0], StartsWith("cannot create data directory '" + data_dir + "': "));
}

}  // namespace
}  // namespace batchd::server
