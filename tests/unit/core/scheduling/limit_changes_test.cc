#include "core/scheduling/limit_changes.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/limits/limit_file.h"
#include "core/limits/limit_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_journal.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

LimitSpec InFlight(std::string key, int64_t max) {
  LimitSpec s;
  s.key = std::move(key);
  s.max_in_flight = max;
  return s;
}

class LimitChangesTest : public ::testing::Test {
 protected:
  LimitChangesTest()
      : strand_(boost::asio::make_strand(io_)),
        timers_(clock_, io_, strand_),
        gate_(clock_, timers_, LimitTableOptions{2, {}}, [] {}) {
    spdlog::set_level(spdlog::level::warn);
  }

  void Use(Journal* journal) {
    changes_ = std::make_unique<LimitChanges>(strand_, gate_, journal, [this] { ++applied_; });
  }
  // Asks on the strand, as the scheduler does.
  std::shared_ptr<std::optional<absl::StatusOr<LimitState>>> Set(LimitSpec spec) {
    auto out = std::make_shared<std::optional<absl::StatusOr<LimitState>>>();
    boost::asio::post(strand_, [this, out, spec = std::move(spec)]() mutable {
      changes_->Set(std::move(spec), [out](absl::StatusOr<LimitState> s) { *out = s; });
    });
    timers_.Poll();
    return out;
  }
  std::shared_ptr<std::optional<absl::Status>> Delete(std::string key) {
    auto out = std::make_shared<std::optional<absl::Status>>();
    boost::asio::post(strand_, [this, out, key = std::move(key)]() mutable {
      changes_->Delete(std::move(key), [out](absl::Status s) { *out = s; });
    });
    timers_.Poll();
    return out;
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const LimitState& s : gate_.List()) keys.push_back(s.spec.key);
    return keys;
  }
  void Commit() {
    journal_.Commit();
    timers_.Poll();
  }

  boost::asio::io_context io_;
  testing::FakeTimerService::Strand strand_;
  testing::FakeClock clock_;
  testing::FakeTimerService timers_;
  LimitGate gate_;
  testing::FakeJournal journal_;
  std::unique_ptr<LimitChanges> changes_;
  int applied_ = 0;
};

TEST_F(LimitChangesTest, WithoutAJournalAChangeTakesEffectAtOnce) {
  Use(nullptr);
  auto set = Set(InFlight("api", 3));
  ASSERT_TRUE(set->has_value() && (*set)->ok());
  EXPECT_EQ((**set)->spec.max_in_flight, 3);
  EXPECT_THAT(Keys(), ElementsAre("api"));
  EXPECT_TRUE(gate_.catalog().Contains("api"));
  auto deleted = Delete("api");
  ASSERT_TRUE(deleted->has_value() && (*deleted)->ok());
  EXPECT_THAT(Keys(), IsEmpty());
  EXPECT_EQ(applied_, 2);
}

TEST_F(LimitChangesTest, AChangeTakesEffectAndIsAnsweredOnlyOnceDurable) {
  Use(&journal_);
  auto set = Set(InFlight("api", 3));
  EXPECT_FALSE(set->has_value());
  EXPECT_THAT(Keys(), IsEmpty());
  EXPECT_EQ(applied_, 0);
  Commit();
  ASSERT_TRUE(set->has_value() && (*set)->ok());
  EXPECT_THAT(Keys(), ElementsAre("api"));
  EXPECT_EQ(applied_, 1);
  // What the journal keeps decodes back to the spec a restart restores.
  std::vector<std::string> problems;
  EXPECT_THAT(ApplyLimitRecords({}, journal_.StoredLimits(), &problems),
              ElementsAre(InFlight("api", 3)));
  EXPECT_THAT(problems, IsEmpty());

  auto deleted = Delete("api");
  EXPECT_FALSE(deleted->has_value());
  Commit();
  ASSERT_TRUE(deleted->has_value() && (*deleted)->ok());
  EXPECT_THAT(Keys(), IsEmpty());
  EXPECT_THAT(journal_.StoredLimits(), ElementsAre(LimitDeletedRecord("api")));
}

TEST_F(LimitChangesTest, AChangeTheJournalRefusesChangesNothing) {
  Use(&journal_);
  auto set = Set(InFlight("api", 3));
  journal_.Fail(absl::UnavailableError("limit change not made: disk full"));
  timers_.Poll();
  ASSERT_TRUE(set->has_value());
  EXPECT_EQ((*set)->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*set)->status().message(), "limit change not made: disk full");
  EXPECT_THAT(Keys(), IsEmpty());
  EXPECT_EQ(applied_, 0);
}

TEST_F(LimitChangesTest, ABadChangeIsRefusedWithoutAJournalRecord) {
  Use(&journal_);
  LimitSpec bad = InFlight("api", 0);
  auto set = Set(bad);
  ASSERT_TRUE(set->has_value());
  EXPECT_EQ((*set)->status().code(), absl::StatusCode::kInvalidArgument);
  auto deleted = Delete("missing");
  ASSERT_TRUE(deleted->has_value());
  EXPECT_EQ((*deleted)->code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*deleted)->message(), "No limit 'missing'");
  Commit();
  EXPECT_THAT(journal_.StoredLimits(), IsEmpty());
}

TEST_F(LimitChangesTest, ChangesAreStoredOneAtATimeAndCheckedAgainstTheOnesBefore) {
  Use(&journal_);  // the gate holds at most 2 keys
  auto a = Set(InFlight("a", 1));
  auto b = Set(InFlight("b", 1));
  auto c = Set(InFlight("c", 1));
  auto a2 = Set(InFlight("a", 7));
  EXPECT_EQ(journal_.pending_limits(), 1u);  // only the first is in the journal
  Commit();
  EXPECT_TRUE(a->has_value() && (*a)->ok());
  EXPECT_FALSE(b->has_value());
  Commit();
  ASSERT_TRUE(b->has_value() && (*b)->ok());
  // c would be a third key: refused before it is stored; a2 reconfigures a key in force.
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(a2->has_value());
  Commit();
  ASSERT_TRUE(a2->has_value() && (*a2)->ok());
  EXPECT_EQ((**a2)->spec.max_in_flight, 7);
  EXPECT_THAT(Keys(), ElementsAre("a", "b"));
  EXPECT_EQ(journal_.StoredLimits().size(), 2u);
}

}  // namespace
}  // namespace batchd::core
