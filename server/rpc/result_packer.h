// Splits one chunk of a batch's result log into StreamResults messages bounded by serialized
// bytes (kMaxStreamMessageBytes) as well as by the chunk's count: results are converted one at a
// time and a message takes them while it stays within the bound; a result bigger than the bound
// goes alone. Each message's sequence is that of its last result, as if the chunk had been read
// in pieces. Not thread-safe: owned by one stream and used by its one pull in flight.
#pragma once

#include <cstddef>
#include <memory>

#include "batchd/v1/batch_service.pb.h"
#include "core/model/task_result.h"
#include "server/rpc/message_budget.h"

namespace batchd::server {

class ResultPacker {
 public:
  explicit ResultPacker(size_t max_message_bytes = kMaxStreamMessageBytes)
      : max_message_bytes_(max_message_bytes) {}

  // Starts on `chunk`'s results; whatever the previous chunk had left is dropped.
  void Reset(core::ResultChunk chunk);
  // Whether every result of the chunk went into a message.
  bool done() const { return next_ == chunk_.results.size(); }
  // Adds the next results to `out`, which holds none yet (at least one unless done()), and
  // sets its sequence.
  void PackNext(v1::StreamResultsResponse* out);

 private:
  const size_t max_message_bytes_;
  core::ResultChunk chunk_;  // its keep_alive holds the results it points to
  size_t next_ = 0;          // index of the first result not in a message yet
  // chunk_.results[next_], converted for the previous message and left out of it: kept so that
  // a big result is converted once.
  std::unique_ptr<v1::TaskResult> carried_;
};

}  // namespace batchd::server
