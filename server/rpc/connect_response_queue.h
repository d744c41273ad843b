// What the daemon has queued for one worker's WorkerService.Connect stream, in the order it was
// queued, packed into ConnectResponse messages of at most kMaxStreamMessageBytes each: an
// assignment carries its input and its dependencies' outputs, so a worker with gRPC's default
// receive limit must never get a message holding many big ones. An element over the bound goes
// alone. Not thread-safe: the stream's connection guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "batchd/v1/worker_service.pb.h"
#include "core/workers/worker_connection.h"
#include "server/rpc/message_budget.h"

namespace batchd::server {

class ConnectResponseQueue {
 public:
  explicit ConnectResponseQueue(size_t max_message_bytes = kMaxStreamMessageBytes)
      : max_message_bytes_(max_message_bytes) {}

  void AddRegistered(std::string worker_id, uint32_t heartbeat_interval_ms);
  void AddAssignment(const core::WorkerAssignment& assignment);
  void AddCancel(std::string assignment_id, std::string reason);
  // What is added next starts a message of its own (the registration goes alone).
  void EndMessage();

  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  // Moves the oldest message into `out`. Not empty() only.
  void PopFront(v1::ConnectResponse* out);
  void Clear() { messages_.clear(); }

 private:
  struct Message {
    v1::ConnectResponse response;
    size_t bytes = 0;     // serialized size of `response`
    size_t elements = 0;  // fields set or elements added
    bool ended = false;   // takes nothing more (EndMessage)
  };
  // The message the element just added to `messages_.back()` in `field` (framed size `framed`)
  // belongs in: the back one while it fits, else a new one it is moved to.
  template <typename Element>
  void Place(google::protobuf::RepeatedPtrField<Element>* (v1::ConnectResponse::*field)(),
             size_t framed);
  Message& Back();

  const size_t max_message_bytes_;
  std::deque<Message> messages_;
};

}  // namespace batchd::server
