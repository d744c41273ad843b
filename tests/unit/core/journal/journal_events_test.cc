#include "core/journal/journal_events.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

WallTime At(int64_t us) { return WallTime(std::chrono::microseconds(us)); }

TEST(JournalEventsTest, EveryEventRoundTrips) {
  std::string data;
  EncodeStarted(data, 7, 2);
  EncodeRequeued(data, 7);
  EncodeRetryWait(data, 3, 1, At(1'700'000'000'123'456));
  TaskResult r;
  r.task = 9;
  r.state = TaskState::kTimedOut;
  r.retry_count = 4;
  r.output = boost::json::object{{"k", boost::json::array{1, "two", nullptr}}};
  r.error = "Timeout after 5 ms";
  r.duration_ms = 5.25;
  r.started_at = At(10);
  r.finished_at = At(20);
  r.worker_id = "w#1";
  EncodeResult(data, r);
  EncodeCancelled(data, "enough");
  EncodeFinished(data, At(99));

  absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(data);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 6u);
  const std::vector<JournalEvent>& e = *events;
  EXPECT_EQ(e[0].kind, JournalEventKind::kStarted);
  EXPECT_EQ(e[0].task, 7u);
  EXPECT_EQ(e[0].retries, 2u);
  EXPECT_EQ(e[1].kind, JournalEventKind::kRequeued);
  EXPECT_EQ(e[1].task, 7u);
  EXPECT_EQ(e[2].kind, JournalEventKind::kRetryWait);
  EXPECT_EQ(e[2].task, 3u);
  EXPECT_EQ(e[2].retries, 1u);
  EXPECT_EQ(e[2].at, At(1'700'000'000'123'456));
  EXPECT_EQ(e[3].kind, JournalEventKind::kResult);
  EXPECT_EQ(e[3].task, 9u);
  EXPECT_EQ(e[3].state, TaskState::kTimedOut);
  EXPECT_EQ(e[3].retries, 4u);
  EXPECT_EQ(e[3].output, r.output);
  EXPECT_EQ(e[3].error, "Timeout after 5 ms");
  EXPECT_EQ(e[3].duration_ms, 5.25);
  EXPECT_EQ(e[3].started_at, At(10));
  EXPECT_EQ(e[3].at, At(20));
  EXPECT_EQ(e[3].worker_id, "w#1");
  EXPECT_EQ(e[4].kind, JournalEventKind::kCancelled);
  EXPECT_EQ(e[4].reason, "enough");
  EXPECT_EQ(e[5].kind, JournalEventKind::kFinished);
  EXPECT_EQ(e[5].at, At(99));
}

TEST(JournalEventsTest, DeferredResultsAreEncodedAtTheirOffsetsAsIfEncodedInPlace) {
  TaskResult first;
  first.task = 1;
  first.state = TaskState::kSucceeded;
  first.output = boost::json::value("one");
  TaskResult second;
  second.task = 2;
  second.state = TaskState::kFailed;
  second.error = "boom";
  // In place: started 0, result 1, started 3, result 2, result 1 again, finished.
  std::string in_place;
  EncodeStarted(in_place, 0, 0);
  EncodeResult(in_place, first);
  EncodeStarted(in_place, 3, 1);
  EncodeResult(in_place, second);
  EncodeResult(in_place, first);
  EncodeFinished(in_place, At(5));

  EventChunk chunk;
  EncodeStarted(chunk.events, 0, 0);
  chunk.results.push_back({chunk.events.size(), &first});
  EncodeStarted(chunk.events, 3, 1);
  chunk.results.push_back({chunk.events.size(), &second});
  chunk.results.push_back({chunk.events.size(), &first});  // two at one offset keep their order
  EncodeFinished(chunk.events, At(5));
  chunk.keep_alive = std::make_shared<int>(1);
  EncodeDeferredResults(chunk);

  EXPECT_EQ(chunk.events, in_place);
  EXPECT_TRUE(chunk.results.empty());
  EXPECT_EQ(chunk.keep_alive, nullptr);
}

TEST(JournalEventsTest, AChunkWithoutDeferredResultsIsLeftAsItIs) {
  EventChunk chunk;
  EncodeStarted(chunk.events, 4, 0);
  const std::string before = chunk.events;
  EncodeDeferredResults(chunk);
  EXPECT_EQ(chunk.events, before);
}

TEST(JournalEventsTest, TimesOutsideTheCenturyAreClamped) {
  std::string data;
  EncodeFinished(data, At(-5));
  EncodeRetryWait(data, 0, 0, WallTime(std::chrono::hours(24 * 365 * 200)));
  absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(data);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].at, At(0));
  EXPECT_EQ((*events)[1].at, At(4'102'444'800'000'000));
}

TEST(JournalEventsTest, NullOutputStaysNull) {
  std::string data;
  TaskResult r;
  r.state = TaskState::kSkipped;
  EncodeResult(data, r);
  absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(data);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE((*events)[0].output.is_null());
}

TEST(JournalEventsTest, ACachedResultKeepsItsOriginAndIsOneEvent) {
  std::string data;
  TaskResult r;
  r.task = 4;
  r.state = TaskState::kSucceeded;
  r.output = 7;
  r.cached_from = std::make_shared<const CachedFrom>(CachedFrom{"b-1", "fetch"});
  EncodeResult(data, r);
  EncodeFinished(data, WallTime{});
  absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(data);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind, JournalEventKind::kResult);
  ASSERT_NE((*events)[0].cached_from, nullptr);
  EXPECT_EQ((*events)[0].cached_from->batch_id, "b-1");
  EXPECT_EQ((*events)[0].cached_from->task_id, "fetch");
  EXPECT_EQ((*events)[1].kind, JournalEventKind::kFinished);
}

TEST(JournalEventsTest, AnOriginWithoutItsResultIsDataLoss) {
  std::string result;
  TaskResult r;
  r.task = 4;
  r.state = TaskState::kSucceeded;
  r.cached_from = std::make_shared<const CachedFrom>(CachedFrom{"b-1", "fetch"});
  EncodeResult(result, r);
  std::string plain;
  r.cached_from = nullptr;
  EncodeResult(plain, r);
  const std::string origin = result.substr(plain.size());  // the kCachedFrom event alone
  std::string data;
  EncodeStarted(data, 4, 0);
  data += origin;
  EXPECT_EQ(DecodeJournalEvents(data).status().code(), absl::StatusCode::kDataLoss);
}

TEST(JournalEventsTest, TruncatedDataIsDataLossNamingTheOffset) {
  std::string data;
  EncodeStarted(data, 1, 0);
  const size_t second = data.size();
  EncodeCancelled(data, "a long enough reason");
  data.resize(data.size() - 3);
  absl::StatusOr<std::vector<JournalEvent>> events = DecodeJournalEvents(data);
  EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(events.status().message(),
            "Corrupt journal event (kind 4) at byte " + std::to_string(second));
}

TEST(JournalEventsTest, UnknownKindAndBadStateAreDataLoss) {
  EXPECT_EQ(DecodeJournalEvents(std::string("\x09", 1)).status().code(),
            absl::StatusCode::kDataLoss);
  std::string data;
  TaskResult r;
  r.state = TaskState::kRunning;  // never final: not a valid stored result
  EncodeResult(data, r);
  EXPECT_EQ(DecodeJournalEvents(data).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace batchd::core
