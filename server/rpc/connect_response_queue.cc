#include "server/rpc/connect_response_queue.h"

#include <utility>

#include "server/convert/worker_convert.h"

namespace batchd::server {

ConnectResponseQueue::Message& ConnectResponseQueue::Back() {
  if (messages_.empty() || messages_.back().ended) messages_.emplace_back();
  return messages_.back();
}

void ConnectResponseQueue::EndMessage() {
  if (!messages_.empty()) messages_.back().ended = true;
}

template <typename Element>
void ConnectResponseQueue::Place(
    google::protobuf::RepeatedPtrField<Element>* (v1::ConnectResponse::*field)(), size_t framed) {
  Message* back = &messages_.back();
  if (!FitsInMessage(back->bytes, back->elements, framed, max_message_bytes_)) {
    Element* element = (back->response.*field)()->ReleaseLast();
    messages_.emplace_back();
    back = &messages_.back();
    (back->response.*field)()->AddAllocated(element);
  }
  back->bytes += framed;
  ++back->elements;
}

void ConnectResponseQueue::AddRegistered(std::string worker_id, uint32_t heartbeat_interval_ms) {
  // The first message of a stream, and small: never over the bound (EndMessage keeps others out).
  Message& back = Back();
  v1::WorkerRegistered* registered = back.response.mutable_registered();
  registered->set_worker_id(std::move(worker_id));
  registered->set_heartbeat_interval_ms(heartbeat_interval_ms);
  back.bytes += FramedFieldBytes(registered->ByteSizeLong());
  ++back.elements;
}

void ConnectResponseQueue::AddAssignment(const core::WorkerAssignment& assignment) {
  // Measured on the converted message, which is what the worker has to receive.
  v1::TaskAssignment* added = Back().response.add_assignments();
  AssignmentToProto(assignment, added);
  Place(&v1::ConnectResponse::mutable_assignments, FramedFieldBytes(added->ByteSizeLong()));
}

void ConnectResponseQueue::AddCancel(std::string assignment_id, std::string reason) {
  v1::CancelAssignment* added = Back().response.add_cancels();
  added->set_assignment_id(std::move(assignment_id));
  added->set_reason(std::move(reason));
  Place(&v1::ConnectResponse::mutable_cancels, FramedFieldBytes(added->ByteSizeLong()));
}

void ConnectResponseQueue::PopFront(v1::ConnectResponse* out) {
  out->Clear();
  out->Swap(&messages_.front().response);
  messages_.pop_front();
}

}  // namespace batchd::server
