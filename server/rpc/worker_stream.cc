#include "server/rpc/worker_stream.h"

#include <utility>

#include "server/convert/status_convert.h"
#include "server/convert/worker_convert.h"
#include "server/rpc/connect_response_queue.h"

namespace batchd::server {

// The hub's handle on the stream. Writes go through one in-flight message; what is queued
// meanwhile is packed into the next ones (ConnectResponseQueue bounds each by bytes).
// StartWrite and Finish are called outside the mutex because gRPC may run OnWriteDone inline.
class WorkerStream::Connection final : public core::WorkerConnection {
 public:
  explicit Connection(WorkerStream* stream) : stream_(stream) {}

  void SendRegistered(std::string worker_id, uint32_t heartbeat_interval_ms) override {
    absl::MutexLock lock(&mu_);
    queued_.AddRegistered(std::move(worker_id), heartbeat_interval_ms);
    Flush(lock);
  }
  void SendAssignment(core::WorkerAssignment assignment) override {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr || closing_) return;
    queued_.AddAssignment(assignment);
    Flush(lock);
  }
  void SendCancel(std::string assignment_id, std::string reason) override {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr || closing_) return;
    queued_.AddCancel(std::move(assignment_id), std::move(reason));
    Flush(lock);
  }
  void Close(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    close_status_ = ToGrpcStatus(status);
    Flush(lock);
  }

  void OnWriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The stream is broken; nothing more can be written.
      queued_.Clear();
      closing_ = true;
    }
    Flush(lock);
  }

  // The reactor is about to be deleted.
  void Detach() {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

 private:
  // Starts the next write, or the Finish once everything queued is written. Releases `lock`
  // around the gRPC call.
  void Flush(absl::MutexLock& /*lock*/) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stream_ == nullptr || writing_ || finished_) return;
    WorkerStream* stream = stream_;
    if (!queued_.empty()) {
      queued_.PopFront(&in_flight_);
      writing_ = true;
      mu_.Unlock();
      stream->StartWrite(&in_flight_);
      mu_.Lock();
      return;
    }
    if (closing_) {
      finished_ = true;
      const grpc::Status status = close_status_;
      mu_.Unlock();
      stream->Finish(status);
      mu_.Lock();
    }
  }

  absl::Mutex mu_;
  WorkerStream* stream_ ABSL_GUARDED_BY(mu_);
  ConnectResponseQueue queued_ ABSL_GUARDED_BY(mu_);
  v1::ConnectResponse in_flight_;  // owned by gRPC between StartWrite and OnWriteDone
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
};

WorkerStream::WorkerStream(grpc::CallbackServerContext* context, core::WorkerHub& hub,
                           StreamLimiter::Lease lease)
    : context_(context),
      hub_(hub),
      connection_(std::make_shared<Connection>(this)),
      lease_(std::move(lease)) {
  StartRead(&request_);
}

void WorkerStream::OnReadDone(bool ok) {
  if (!ok) {
    // The worker half-closed or the stream broke: its running tasks go elsewhere. A broken
    // stream is cancelled; one whose cancellation is not visible yet passes for closed, which
    // only lowers its log line when nothing was in flight (the hub logs lost work loudly).
    const bool closed = !context_->IsCancelled();
    hub_.Disconnect(connection_.get(), closed ? "closed its stream" : "stream broken", closed);
    connection_->Close(absl::OkStatus());
    return;
  }
  if (!registered_) {
    HandleFirstMessage();
  } else if (request_.has_registration()) {
    connection_->Close(absl::InvalidArgumentError(
        "registration may only be sent in the first message of the stream"));
    hub_.Disconnect(connection_.get(), "sent a second registration");
    return;
  } else {
    hub_.Receive(connection_.get(), WorkerMessageFromProto(request_));
  }
  if (!registered_) return;
  request_.Clear();
  StartRead(&request_);
}

void WorkerStream::HandleFirstMessage() {
  if (!request_.has_registration()) {
    connection_->Close(absl::InvalidArgumentError(
        "the first message of WorkerService.Connect must carry a registration"));
    return;
  }
  registered_ = true;
  hub_.Register(connection_, RegistrationFromProto(request_.registration()));
  // Outcomes cannot exist yet; a heartbeat in the first message needs no handling.
}

void WorkerStream::OnWriteDone(bool ok) { connection_->OnWriteDone(ok); }

void WorkerStream::OnCancel() {
  hub_.Disconnect(connection_.get(), "stream cancelled");
  connection_->Close(absl::CancelledError("stream cancelled"));
}

void WorkerStream::OnDone() {
  connection_->Detach();
  hub_.Disconnect(connection_.get(), "stream done");
  delete this;
}

}  // namespace batchd::server
