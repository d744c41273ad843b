// AdmissionLedger: a request_id admits one batch while it is retained; a retried submission
// finds it (a twin), other content under the same request_id is refused.
#include "core/scheduling/admission_ledger.h"

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

class AdmissionLedgerTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  testing::TestBatches batches_{clock_};
  AdmissionLedger ledger_;
};

TEST_F(AdmissionLedgerTest, UnknownRequestIdFindsNothing) {
  AdmissionLedger::Answer answer = ledger_.Find("r1", "content");
  ASSERT_TRUE(answer.ok());
  EXPECT_FALSE(answer->has_value());
  EXPECT_EQ(ledger_.size(), 0u);
}

TEST_F(AdmissionLedgerTest, EmptyRequestIdIsNeverRecorded) {
  auto batch = batches_.Make(1, "");
  AdmissionLedger::Answer claimed = ledger_.Claim(batch, "content", nullptr);
  ASSERT_TRUE(claimed.ok());
  EXPECT_FALSE(claimed->has_value());
  EXPECT_EQ(ledger_.size(), 0u);
  // A second batch without request_id is not a twin of the first.
  AdmissionLedger::Answer again = ledger_.Claim(batches_.Make(2, ""), "content", nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_FALSE(ledger_.Find("", "content")->has_value());
}

TEST_F(AdmissionLedgerTest, SameContentFindsTheClaimedBatchAndItsAdmission) {
  auto batch = batches_.Make(1, "r1");
  auto admission = std::make_shared<Admission>();
  ASSERT_FALSE(ledger_.Claim(batch, "content", admission)->has_value());
  EXPECT_EQ(ledger_.size(), 1u);

  AdmissionLedger::Answer twin = ledger_.Find("r1", "content");
  ASSERT_TRUE(twin.ok());
  ASSERT_TRUE(twin->has_value());
  EXPECT_EQ((*twin)->batch, batch);
  EXPECT_EQ((*twin)->admission, admission);
}

TEST_F(AdmissionLedgerTest, DifferentContentUnderAUsedRequestIdIsAlreadyExists) {
  ASSERT_FALSE(ledger_.Claim(batches_.Make(1, "r1"), "content", nullptr)->has_value());
  AdmissionLedger::Answer answer = ledger_.Find("r1", "other content");
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(answer.status().message(),
            "request_id 'r1' was already used for batch batch-1 with different content; use a "
            "new request_id");
}

TEST_F(AdmissionLedgerTest, SecondClaimIsAnsweredWithTheFirstBatch) {
  auto first = batches_.Make(1, "r1");
  auto first_admission = std::make_shared<Admission>();
  ASSERT_FALSE(ledger_.Claim(first, "content", first_admission)->has_value());

  AdmissionLedger::Answer twin =
      ledger_.Claim(batches_.Make(2, "r1"), "content", std::make_shared<Admission>());
  ASSERT_TRUE(twin.ok());
  ASSERT_TRUE(twin->has_value());
  EXPECT_EQ((*twin)->batch, first);
  EXPECT_EQ((*twin)->admission, first_admission);

  AdmissionLedger::Answer refused = ledger_.Claim(batches_.Make(3, "r1"), "changed", nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ledger_.size(), 1u);
  EXPECT_EQ((*ledger_.Find("r1", "content"))->batch, first);
}

TEST_F(AdmissionLedgerTest, ForgetFreesTheRequestId) {
  auto first = batches_.Make(1, "r1");
  ASSERT_FALSE(ledger_.Claim(first, "content", nullptr)->has_value());
  ledger_.Forget(*first);
  EXPECT_EQ(ledger_.size(), 0u);
  EXPECT_FALSE(ledger_.Find("r1", "content")->has_value());
  // Free again: even other content may use it now.
  auto second = batches_.Make(2, "r1");
  ASSERT_FALSE(ledger_.Claim(second, "other content", nullptr)->has_value());
  EXPECT_EQ((*ledger_.Find("r1", "other content"))->batch, second);
}

TEST_F(AdmissionLedgerTest, ForgettingABatchThatDoesNotHoldTheRequestIdKeepsTheHolder) {
  auto holder = batches_.Make(1, "r1");
  auto twin = batches_.Make(2, "r1");
  ASSERT_FALSE(ledger_.Claim(holder, "content", nullptr)->has_value());
  ASSERT_TRUE(ledger_.Claim(twin, "content", nullptr)->has_value());

  ledger_.Forget(*twin);  // e.g. the refused twin
  EXPECT_EQ(ledger_.size(), 1u);
  EXPECT_EQ((*ledger_.Find("r1", "content"))->batch, holder);
}

TEST_F(AdmissionLedgerTest, RestoredBatchIsATwinWhoseAdmissionIsAlreadyAccepted) {
  auto batch = batches_.Make(7, "r7");
  ledger_.Restore(batch, "content");
  EXPECT_EQ(ledger_.size(), 1u);

  AdmissionLedger::Answer twin = ledger_.Find("r7", "content");
  ASSERT_TRUE(twin.ok());
  ASSERT_TRUE(twin->has_value());
  EXPECT_EQ((*twin)->batch, batch);
  ASSERT_NE((*twin)->admission, nullptr);
  std::optional<absl::Status> resolved;
  (*twin)->admission->WhenResolved([&](absl::Status s) { resolved = s; });
  ASSERT_TRUE(resolved.has_value());  // at once: decided
  EXPECT_TRUE(resolved->ok());
  EXPECT_EQ(ledger_.Find("r7", "changed").status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(AdmissionLedgerTest, RestoreWithoutRequestIdRecordsNothing) {
  ledger_.Restore(batches_.Make(1, ""), "content");
  EXPECT_EQ(ledger_.size(), 0u);
}

}  // namespace
}  // namespace batchd::core
