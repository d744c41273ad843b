#include "core/journal/journal_events.h"

#include <algorithm>
#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace batchd::core {
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutSigned(std::string& out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

void PutDouble(std::string& out, double d) {
  const uint64_t bits = std::bit_cast<uint64_t>(d);
  char bytes[8];
  std::memcpy(bytes, &bits, 8);
  out.append(bytes, 8);
}

void PutHeader(std::string& out, JournalEventKind kind) { out.push_back(static_cast<char>(kind)); }

// Reads what the Put functions wrote; any read past the end or malformed value fails the whole
// decode.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  size_t pos() const { return pos_; }
  bool ok() const { return ok_; }

  uint8_t Byte() {
    if (pos_ >= data_.size()) return Fail();
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Fail();
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }
  uint32_t U32() {
    const uint64_t v = Varint();
    if (v > UINT32_MAX) return Fail();
    return static_cast<uint32_t>(v);
  }
  int64_t Signed() {
    const uint64_t v = Varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  std::string_view String() {
    const uint64_t n = Varint();
    if (!ok_ || n > data_.size() - pos_) {
      Fail();
      return {};
    }
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  double Double() {
    if (data_.size() - pos_ < 8 || pos_ > data_.size()) return Fail();
    uint64_t bits;
    std::memcpy(&bits, data_.data() + pos_, 8);
    pos_ += 8;
    return std::bit_cast<double>(bits);
  }
  uint8_t Fail() {
    ok_ = false;
    pos_ = data_.size();
    return 0;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool DecodeResult(Reader& r, JournalEvent& e) {
  e.task = r.U32();
  const uint8_t state = r.Byte();
  if (state < static_cast<uint8_t>(TaskState::kSucceeded) ||
      state > static_cast<uint8_t>(TaskState::kCancelled)) {
    return false;
  }
  e.state = static_cast<TaskState>(state);
  e.retries = r.U32();
  e.duration_ms = r.Double();
  e.started_at = JournalTimeFromMicros(r.Signed());
  e.at = JournalTimeFromMicros(r.Signed());
  const std::string_view output = r.String();
  e.error = std::string(r.String());
  e.worker_id = std::string(r.String());
  if (!r.ok()) return false;
  if (!output.empty()) {
    boost::system::error_code ec;
    e.output = boost::json::parse(output, ec);
    if (ec) return false;
  }
  return true;
}

}  // namespace

void EncodeStarted(std::string& out, uint32_t task, uint32_t retries) {
  PutHeader(out, JournalEventKind::kStarted);
  PutVarint(out, task);
  PutVarint(out, retries);
}

void EncodeRequeued(std::string& out, uint32_t task) {
  PutHeader(out, JournalEventKind::kRequeued);
  PutVarint(out, task);
}

void EncodeAwaiting(std::string& out, uint32_t task, WallTime since, std::string_view token) {
  PutHeader(out, JournalEventKind::kAwaiting);
  PutVarint(out, task);
  PutSigned(out, JournalMicros(since));
  PutString(out, token);
}

void EncodeRetryWait(std::string& out, uint32_t task, uint32_t retries, WallTime due) {
  PutHeader(out, JournalEventKind::kRetryWait);
  PutVarint(out, task);
  PutVarint(out, retries);
  PutSigned(out, JournalMicros(due));
}

void EncodeResult(std::string& out, const TaskResult& result) {
  PutHeader(out, JournalEventKind::kResult);
  PutVarint(out, result.task);
  out.push_back(static_cast<char>(result.state));
  PutVarint(out, result.retry_count);
  PutDouble(out, result.duration_ms);
  PutSigned(out, JournalMicros(result.started_at));
  PutSigned(out, JournalMicros(result.finished_at));
  PutString(out, result.output.is_null() ? std::string() : boost::json::serialize(result.output));
  PutString(out, result.error);
  PutString(out, result.worker_id);
  if (result.cached_from != nullptr) {
    PutHeader(out, JournalEventKind::kCachedFrom);
    PutVarint(out, result.task);
    PutString(out, result.cached_from->batch_id);
    PutString(out, result.cached_from->task_id);
  }
}

void EncodeDeferredResults(EventChunk& chunk) {
  if (chunk.results.empty()) return;
  std::string out;
  out.reserve(chunk.events.size() + chunk.results.size() * 48);
  size_t copied = 0;
  for (const DeferredResult& d : chunk.results) {
    out.append(chunk.events, copied, d.offset - copied);
    copied = d.offset;
    EncodeResult(out, *d.result);
  }
  out.append(chunk.events, copied, std::string::npos);
  chunk.events = std::move(out);
  chunk.results.clear();
  chunk.keep_alive.reset();
}

void EncodeCancelled(std::string& out, std::string_view reason) {
  PutHeader(out, JournalEventKind::kCancelled);
  PutString(out, reason);
}

void EncodeAdded(std::string& out, std::string_view request_id, std::string_view content) {
  PutHeader(out, JournalEventKind::kAdded);
  PutString(out, request_id);
  PutString(out, content);
}

void EncodeClosed(std::string& out) { PutHeader(out, JournalEventKind::kClosed); }

void EncodeFinished(std::string& out, WallTime at) {
  PutHeader(out, JournalEventKind::kFinished);
  PutSigned(out, JournalMicros(at));
}

absl::StatusOr<std::vector<JournalEvent>> DecodeJournalEvents(std::string_view data) {
  std::vector<JournalEvent> events;
  Reader r(data);
  while (!r.done()) {
    const size_t offset = r.pos();
    JournalEvent& e = events.emplace_back();
    const uint8_t kind = r.Byte();
    bool valid = true;
    switch (static_cast<JournalEventKind>(kind)) {
      case JournalEventKind::kStarted:
        e.task = r.U32();
        e.retries = r.U32();
        break;
      case JournalEventKind::kRequeued:
        e.task = r.U32();
        break;
      case JournalEventKind::kRetryWait:
        e.task = r.U32();
        e.retries = r.U32();
        e.at = JournalTimeFromMicros(r.Signed());
        break;
      case JournalEventKind::kAwaiting:
        e.task = r.U32();
        e.at = JournalTimeFromMicros(r.Signed());
        e.token = std::string(r.String());
        break;
      case JournalEventKind::kResult:
        valid = DecodeResult(r, e);
        break;
      case JournalEventKind::kCancelled:
        e.reason = std::string(r.String());
        break;
      case JournalEventKind::kFinished:
        e.at = JournalTimeFromMicros(r.Signed());
        break;
      case JournalEventKind::kAdded:
        e.reason = std::string(r.String());
        e.content = std::string(r.String());
        break;
      case JournalEventKind::kClosed:
        break;
      case JournalEventKind::kCachedFrom: {
        const uint32_t task = r.U32();
        CachedFrom from{std::string(r.String()), std::string(r.String())};
        events.pop_back();  // belongs to the result before it
        valid = r.ok() && !events.empty() && events.back().kind == JournalEventKind::kResult &&
                events.back().task == task;
        if (valid) events.back().cached_from = std::make_shared<const CachedFrom>(std::move(from));
        if (!valid || !r.ok()) {
          return absl::DataLossError(
              absl::StrCat("Corrupt journal event (kind ", kind, ") at byte ", offset));
        }
        continue;
      }
      default:
        valid = false;
    }
    e.kind = static_cast<JournalEventKind>(kind);
    if (!valid || !r.ok()) {
      return absl::DataLossError(
          absl::StrCat("Corrupt journal event (kind ", kind, ") at byte ", offset));
    }
  }
  return events;
}

int64_t JournalMicros(WallTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

WallTime JournalTimeFromMicros(int64_t us) {
  constexpr int64_t kMaxMicros = 4'102'444'800'000'000;  // 2100-01-01
  us = std::clamp<int64_t>(us, 0, kMaxMicros);
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::microseconds(us)));
}

}  // namespace batchd::core
