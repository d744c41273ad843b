#include "server/rpc/worker_stream.h"

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "server/convert/status_convert.h"
#include "server/convert/worker_convert.h"
#include "server/rpc/connect_response_queue.h"

namespace batchd::server {

// The hub's handle on the stream. The hub's sends (on the scheduler's strand) only queue core
// values; one turn at a time converts them and writes: a conversion-pool job starts a turn,
// each write's OnWriteDone (on gRPC's thread) continues it, so everything queued while a
// message is in flight is converted and packed into the next ones (ConnectResponseQueue bounds
// each by bytes), in order. StartWrite and Finish are called outside the mutex because gRPC
// may run OnWriteDone inline.
class WorkerStream::Connection final : public core::WorkerConnection,
                                       public std::enable_shared_from_this<Connection> {
 public:
  Connection(WorkerStream* stream, ConversionPool& conversions)
      : conversions_(conversions), stream_(stream) {}

  void SendRegistered(std::string worker_id, uint32_t heartbeat_interval_ms) override {
    Queue(Registered{std::move(worker_id), heartbeat_interval_ms});
  }
  void SendAssignment(core::WorkerAssignment assignment) override { Queue(std::move(assignment)); }
  void SendCancel(std::string assignment_id, std::string reason) override {
    Queue(Cancel{std::move(assignment_id), std::move(reason)});
  }
  void Close(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    close_status_ = ToGrpcStatus(status);
    Wake();
  }

  // The write's turn continues here, on gRPC's thread.
  void OnWriteDone(bool ok) {
    if (!ok) {
      // The stream is broken; nothing more can be written.
      absl::MutexLock lock(&mu_);
      pending_.clear();
      queued_.Clear();
      closing_ = true;
    }
    Turn();
  }

  // The reactor is about to be deleted.
  void Detach() {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

 private:
  struct Registered {
    std::string worker_id;
    uint32_t heartbeat_interval_ms;
  };
  struct Cancel {
    std::string assignment_id;
    std::string reason;
  };
  using Send = std::variant<Registered, core::WorkerAssignment, Cancel>;

  void Queue(Send send) {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr || closing_) return;
    pending_.push_back(std::move(send));
    Wake();
  }

  // Starts a turn on the pool unless one is under way (it will see what was just queued). Posts
  // only while the reactor exists, so before OnDone and the server's Wait that joins the pool.
  void Wake() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_turn_ || stream_ == nullptr || finished_) return;
    in_turn_ = true;
    conversions_.Post([self = shared_from_this()] { self->Turn(); });
  }

  // Converts what is pending into queued_, then starts the next write (the turn goes on in its
  // OnWriteDone) or the Finish once everything is written, or ends the turn.
  void Turn() {
    std::vector<Send> taken;
    for (;;) {
      WorkerStream* stream = nullptr;
      std::optional<grpc::Status> finish;
      {
        absl::MutexLock lock(&mu_);
        taken.swap(pending_);
        if (taken.empty()) {
          stream = stream_;
          if (stream != nullptr && !queued_.empty()) {
            queued_.PopFront(&in_flight_);
          } else if (stream != nullptr && closing_ && !finished_) {
            finished_ = true;
            finish = close_status_;
          } else {
            in_turn_ = false;
            return;
          }
        }
      }
      if (!taken.empty()) {
        for (Send& send : taken) Convert(std::move(send));
        taken.clear();
        continue;
      }
      if (finish.has_value()) return stream->Finish(*finish);  // the last turn: in_turn_ stays
      return stream->StartWrite(&in_flight_);
    }
  }

  void Convert(Send send) {
    if (auto* r = std::get_if<Registered>(&send)) {
      queued_.AddRegistered(std::move(r->worker_id), r->heartbeat_interval_ms);
      queued_.EndMessage();  // a worker reads its first message for the registration alone
    } else if (auto* a = std::get_if<core::WorkerAssignment>(&send)) {
      queued_.AddAssignment(*a);
    } else {
      auto& c = std::get<Cancel>(send);
      queued_.AddCancel(std::move(c.assignment_id), std::move(c.reason));
    }
  }

  ConversionPool& conversions_;
  absl::Mutex mu_;
  WorkerStream* stream_ ABSL_GUARDED_BY(mu_);
  std::vector<Send> pending_ ABSL_GUARDED_BY(mu_);  // sent by the hub, not converted yet
  bool in_turn_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
  // Touched only by the turn (in_turn_ hands it from thread to thread under mu_).
  ConnectResponseQueue queued_;
  v1::ConnectResponse in_flight_;  // owned by gRPC between StartWrite and OnWriteDone
};

WorkerStream::WorkerStream(grpc::CallbackServerContext* context, core::WorkerHub& hub,
                           ConversionPool& conversions, StreamLimiter::Lease lease)
    : context_(context),
      hub_(hub),
      connection_(std::make_shared<Connection>(this, conversions)),
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
  core::WorkerRegistrationSpec spec = RegistrationFromProto(request_.registration());
  spec.peer = context_->peer();
  hub_.Register(connection_, std::move(spec));
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
