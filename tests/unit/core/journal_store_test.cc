#include "core/journal_store.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

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

  std::string dir_;
};

TEST_F(JournalStoreTest, WhatIsWrittenIsReadBackInOrderAfterReopening) {
  {
    absl::StatusOr<std::unique_ptr<JournalStore>> store = JournalStore::Open(dir_, Durability::kNormal);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write({Record(2, "req"), Record(1)}, {}, {}).ok());
    ASSERT_TRUE((*store)->Write({}, {{2, "ab", 1, false}, {1, "x", 0, false}, {2, "cd", 2, true}},
                                {})
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<JournalStore>> store = JournalStore::Open(dir_, Durability::kFull);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::vector<StoredBatch>> batches = (*store)->LoadAll();
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 2u);
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
  absl::StatusOr<std::unique_ptr<JournalStore>> store = JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Write({Record(1), Record(2)}, {{1, "a", 1, true}, {2, "b", 1, true}}, {}).ok());
  ASSERT_TRUE((*store)->Write({}, {}, {1}).ok());
  absl::StatusOr<std::vector<StoredBatch>> batches = (*store)->LoadAll();
  ASSERT_TRUE(batches.ok());
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].record.seq, 2u);
}

TEST_F(JournalStoreTest, SecondOpenOfTheSameDirectoryIsRefusedNamingIt) {
  absl::StatusOr<std::unique_ptr<JournalStore>> first = JournalStore::Open(dir_, Durability::kNormal);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<JournalStore>> second = JournalStore::Open(dir_, Durability::kNormal);
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

TEST(DurabilityTest, NamesParseAndBadOnesAreRejected) {
  EXPECT_EQ(*ParseDurability("none"), Durability::kNone);
  EXPECT_EQ(*ParseDurability("normal"), Durability::kNormal);
  EXPECT_EQ(*ParseDurability("full"), Durability::kFull);
  EXPECT_EQ(ParseDurability("fsync").status().message(),
            "invalid --durability 'fsync': expected none, normal or full");
}

}  // namespace
}  // namespace batchd::core
