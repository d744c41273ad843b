// BatchAdmitter: Submit's side of the scheduler — ids, twins by request_id, the limit of
// unfinished batches, admission once the journal stored the record, and recovery (a batch whose
// secrets are no longer defined is not recovered).
#include "core/scheduling/batch_admitter.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_journal.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/test_batches.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ManualTask;
using testing::TestBatches;
using ::testing::UnorderedElementsAre;

class BatchAdmitterTest : public ::testing::Test {
 protected:
  BatchAdmitter Make(Journal* journal, size_t max_active = 100) {
    return BatchAdmitter(clock_, batches_.registry(), journal, max_active,
                         [this](std::shared_ptr<Batch> b) { admitted_.push_back(std::move(b)); });
  }
  static BatchSpec Spec(std::string request_id = {}) {
    return TestBatches::Spec({ManualTask("a")}, std::move(request_id));
  }
  // The admission's state now: nullopt while it is pending. A callback registered while
  // pending runs later, so it writes into shared state, not into this frame.
  static std::optional<absl::Status> Durable(const SubmitResult& r) {
    auto out = std::make_shared<std::optional<absl::Status>>();
    BatchAdmitter::WhenDurable(r, [out](absl::Status s) { *out = s; });
    return *out;
  }

  testing::FakeClock clock_;
  TestBatches batches_{clock_};
  testing::FakeJournal journal_;
  std::vector<std::shared_ptr<Batch>> admitted_;
};

TEST_F(BatchAdmitterTest, WithoutAJournalABatchIsAdmittedAtOnce) {
  BatchAdmitter admitter = Make(nullptr);
  absl::StatusOr<SubmitResult> r = admitter.Submit(Spec(), false, "c");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(admitted_.size(), 1u);
  EXPECT_EQ(r->batch_id, admitted_[0]->id());
  EXPECT_EQ(r->batch_id.substr(8), "00000001");
  EXPECT_EQ(admitted_[0]->seq(), 1u);
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->admission, nullptr);
  EXPECT_EQ(r->keep_alive, admitted_[0]);
  EXPECT_TRUE(r->layers.empty());
  EXPECT_FALSE(admitted_[0]->journaled());
  EXPECT_EQ(admitted_[0]->created_steady(), clock_.SteadyNow());
  EXPECT_EQ(Durable(*r), absl::OkStatus());
  EXPECT_EQ(admitter.active(), 1u);
}

TEST_F(BatchAdmitterTest, LayersAreTheTaskIdsByExecutionLayerWhenAsked) {
  BatchAdmitter admitter = Make(nullptr);
  absl::StatusOr<SubmitResult> r = admitter.Submit(
      TestBatches::Spec({ManualTask("a"), ManualTask("b", {"a"}), ManualTask("c")}), true, "");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->layers.size(), 2u);
  EXPECT_THAT(r->layers[0], UnorderedElementsAre("a", "c"));
  EXPECT_THAT(r->layers[1], ElementsAre("b"));
}

TEST_F(BatchAdmitterTest, AnInvalidBatchIsRefusedAndNotCounted) {
  BatchAdmitter admitter = Make(nullptr);
  BatchSpec spec = Spec();
  spec.tasks[0].executor = "nope";
  absl::StatusOr<SubmitResult> r = admitter.Submit(std::move(spec), false, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("Unknown executor 'nope' of task 'a'"));
  EXPECT_TRUE(admitted_.empty());
  EXPECT_EQ(admitter.active(), 0u);
}

TEST_F(BatchAdmitterTest, OverTheLimitOfUnfinishedBatchesIsResourceExhausted) {
  BatchAdmitter admitter = Make(nullptr, 1);
  ASSERT_TRUE(admitter.Submit(Spec(), false, "").ok());
  absl::StatusOr<SubmitResult> refused = admitter.Submit(Spec(), false, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "Too many active batches: the limit is 1 unfinished batches (--max-active-batches)");
  EXPECT_EQ(admitter.active(), 1u);
  admitter.Finished();
  EXPECT_EQ(admitter.active(), 0u);
  absl::StatusOr<SubmitResult> next = admitter.Submit(Spec(), false, "");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->batch_id.substr(8), "00000002");  // the refused one issued no id
  EXPECT_EQ(admitted_.size(), 2u);
}

TEST_F(BatchAdmitterTest, ARetriedSubmissionFindsItsBatchEvenAtTheLimit) {
  BatchAdmitter admitter = Make(nullptr, 1);
  absl::StatusOr<SubmitResult> first = admitter.Submit(Spec("r1"), false, "c");
  ASSERT_TRUE(first.ok());
  absl::StatusOr<SubmitResult> twin = admitter.Submit(Spec("r1"), false, "c");
  ASSERT_TRUE(twin.ok()) << twin.status();
  EXPECT_TRUE(twin->duplicate);
  EXPECT_EQ(twin->batch_id, first->batch_id);
  EXPECT_EQ(admitted_.size(), 1u);
  EXPECT_EQ(admitter.active(), 1u);
}

TEST_F(BatchAdmitterTest, OtherContentUnderAUsedRequestIdIsAlreadyExists) {
  BatchAdmitter admitter = Make(nullptr);
  absl::StatusOr<SubmitResult> first = admitter.Submit(Spec("r1"), false, "c");
  ASSERT_TRUE(first.ok());
  absl::StatusOr<SubmitResult> other = admitter.Submit(Spec("r1"), false, "d");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other.status().message(),
              HasSubstr("request_id 'r1' was already used for batch " + first->batch_id));
  EXPECT_EQ(admitter.active(), 1u);
}

TEST_F(BatchAdmitterTest, WithAJournalABatchIsAdmittedOnceItsRecordIsDurable) {
  BatchAdmitter admitter = Make(&journal_);
  absl::StatusOr<SubmitResult> r = admitter.Submit(Spec("r1"), false, "content");
  ASSERT_TRUE(r.ok());
  ASSERT_NE(r->admission, nullptr);
  EXPECT_TRUE(admitted_.empty());
  EXPECT_EQ(Durable(*r), std::nullopt);
  EXPECT_EQ(journal_.pending_batches(), 1u);
  EXPECT_EQ(admitter.active(), 1u);

  journal_.CommitBatches();
  ASSERT_EQ(admitted_.size(), 1u);
  EXPECT_TRUE(admitted_[0]->journaled());
  EXPECT_EQ(Durable(*r), absl::OkStatus());
  const std::vector<StoredBatch> stored = journal_.Stored();
  ASSERT_EQ(stored.size(), 1u);
  const BatchRecord& record = stored[0].record;
  EXPECT_EQ(record.seq, 1u);
  EXPECT_EQ(record.id, r->batch_id);
  EXPECT_EQ(record.request_id, "r1");
  EXPECT_EQ(record.content, "content");
  EXPECT_EQ(record.created_at, clock_.WallNow());
}

TEST_F(BatchAdmitterTest, ATwinOfAPendingSubmissionSharesItsAdmission) {
  BatchAdmitter admitter = Make(&journal_);
  absl::StatusOr<SubmitResult> first = admitter.Submit(Spec("r1"), false, "c");
  absl::StatusOr<SubmitResult> twin = admitter.Submit(Spec("r1"), false, "c");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(twin.ok());
  EXPECT_TRUE(twin->duplicate);
  EXPECT_EQ(twin->admission, first->admission);
  EXPECT_EQ(journal_.pending_batches(), 1u);  // one record
  EXPECT_EQ(admitter.active(), 1u);
}

TEST_F(BatchAdmitterTest, ARefusedRecordIsNeverAdmittedAndFreesItsRequestId) {
  BatchAdmitter admitter = Make(&journal_);
  absl::StatusOr<SubmitResult> r = admitter.Submit(Spec("r1"), false, "c");
  ASSERT_TRUE(r.ok());
  journal_.Fail(absl::UnavailableError("disk full"));
  EXPECT_TRUE(admitted_.empty());
  EXPECT_EQ(Durable(*r), absl::UnavailableError("disk full"));
  EXPECT_EQ(admitter.active(), 0u);

  absl::StatusOr<SubmitResult> again = admitter.Submit(Spec("r1"), false, "other content");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->duplicate);
  EXPECT_NE(again->batch_id, r->batch_id);
}

TEST_F(BatchAdmitterTest, ARestoredBatchKeepsItsIdentityAndItsRequestId) {
  BatchAdmitter admitter = Make(&journal_, 1);
  BatchRecord record{7, "00000abc00000007", "r7", clock_.WallNow() - std::chrono::seconds(10),
                     "content"};
  absl::StatusOr<std::shared_ptr<Batch>> restored = admitter.Restore(Spec("ignored"), record);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const Batch& batch = **restored;
  EXPECT_EQ(batch.seq(), 7u);
  EXPECT_EQ(batch.id(), "00000abc00000007");
  EXPECT_EQ(batch.request_id(), "r7");
  EXPECT_TRUE(batch.journaled());
  EXPECT_EQ(batch.created_wall(), record.created_at);
  EXPECT_EQ(batch.created_steady(), clock_.SteadyNow() - std::chrono::seconds(10));
  EXPECT_TRUE(admitted_.empty());    // the caller replays it
  EXPECT_EQ(admitter.active(), 0u);  // not counted until it resumes

  // A retry of its submission finds it, accepted.
  absl::StatusOr<SubmitResult> twin = admitter.Submit(Spec("r7"), false, "content");
  ASSERT_TRUE(twin.ok());
  EXPECT_TRUE(twin->duplicate);
  EXPECT_EQ(twin->batch_id, "00000abc00000007");
  EXPECT_EQ(Durable(*twin), absl::OkStatus());

  // New batches come after it; a resumed one counts towards the limit.
  absl::StatusOr<SubmitResult> next = admitter.Submit(Spec(), false, "");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->batch_id.substr(8), "00000008");
  admitter.Finished();
  admitter.Resumed();
  EXPECT_EQ(admitter.active(), 1u);
  EXPECT_EQ(admitter.Submit(Spec(), false, "").status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(BatchAdmitterTest, ForgetFreesAnEvictedBatchsRequestId) {
  BatchAdmitter admitter = Make(nullptr);
  ASSERT_TRUE(admitter.Submit(Spec("r1"), false, "c").ok());
  admitter.Forget(*admitted_[0]);
  absl::StatusOr<SubmitResult> again = admitter.Submit(Spec("r1"), false, "d");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(admitted_.size(), 2u);
}

TEST_F(BatchAdmitterTest, ARestoredBatchReferringToASecretNoLongerDefinedIsRefused) {
  SecretStore secrets;
  ASSERT_TRUE(secrets.Add("api", "sk-VALUE", {"manual"}).ok());
  BatchAdmitter admitter(
      clock_, batches_.registry(), &journal_, 100, [](std::shared_ptr<Batch>) {}, nullptr,
      &secrets);
  const auto referring_to = [](const char* name) {
    BatchSpec spec = Spec();
    spec.tasks[0].input = boost::json::parse(absl::StrCat(R"({"k": "${secret:)", name, R"(}"})"));
    return spec;
  };
  BatchRecord record{7, "00000abc00000007", "", clock_.WallNow(), "content"};
  absl::StatusOr<std::shared_ptr<Batch>> restored = admitter.Restore(referring_to("api"), record);
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_NE((*restored)->secret_refs(0), nullptr);
  EXPECT_EQ((*restored)->secret_refs(0)->names, std::vector<std::string>{"api"});

  record.seq = 8;
  record.id = "00000abc00000008";
  restored = admitter.Restore(referring_to("gone"), record);
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(restored.status().ToString(), HasSubstr("unknown secret 'gone'"));
}

}  // namespace
}  // namespace batchd::core
