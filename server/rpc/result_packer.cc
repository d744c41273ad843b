#include "server/rpc/result_packer.h"

#include <utility>

#include "server/convert/result_convert.h"

namespace batchd::server {
namespace {

// The largest `sequence` field: one tag byte and a 10-byte varint.
constexpr size_t kMaxSequenceFieldBytes = 11;

}  // namespace

void ResultPacker::Reset(core::ResultChunk chunk) {
  chunk_ = std::move(chunk);
  next_ = 0;
  carried_.reset();
}

void ResultPacker::PackNext(v1::StreamResultsResponse* out) {
  // Measured here, on the converted message, rather than estimated by the scheduler: the size
  // of a result's proto is only known once it is built, and building it is this side's job.
  const size_t budget = max_message_bytes_ - kMaxSequenceFieldBytes;
  google::protobuf::RepeatedPtrField<v1::TaskResult>* results = out->mutable_results();
  size_t used = 0;
  size_t packed = 0;
  while (!done()) {
    v1::TaskResult* result;
    if (carried_ != nullptr) {
      results->AddAllocated(carried_.release());
      result = results->Mutable(results->size() - 1);
    } else {
      result = results->Add();
      TaskResultToProto(*chunk_.results[next_], result);
    }
    const size_t framed = FramedFieldBytes(result->ByteSizeLong());
    if (!FitsInMessage(used, packed, framed, budget)) {
      carried_.reset(results->ReleaseLast());
      break;
    }
    used += framed;
    ++packed;
    ++next_;
  }
  // Results are numbered consecutively and the chunk ends at last_sequence.
  out->set_sequence(chunk_.last_sequence - (chunk_.results.size() - next_));
}

}  // namespace batchd::server
