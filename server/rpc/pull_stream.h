// The lifecycle shared by server-streaming calls that pull from the scheduler: ask for the next
// item, write it, ask again once the write completed, finish after the last item or when the
// client goes away. A subclass implements RequestNext() and calls Deliver() from the scheduler's
// callback. gRPC's reference is dropped in OnDone, and the stream's place under the stream
// limits is given back then too; pending scheduler callbacks hold only weak references (a
// stream abandoned while its batch idles must not stay alive, and counted, until the batch
// changes), so a callback that arrives after the call ended finds nothing. Thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/convert/status_convert.h"
#include "server/rpc/stream_limiter.h"

namespace batchd::server {

template <typename Response, typename Derived>
class PullStream : public grpc::ServerWriteReactor<Response>,
                   public std::enable_shared_from_this<Derived> {
 public:
  // Creates the stream holding `lease` (its place under the stream limits), starts pulling
  // and returns gRPC's pointer to it.
  template <typename... Args>
  static grpc::ServerWriteReactor<Response>* Start(StreamLimiter::Lease lease, Args&&... args) {
    std::shared_ptr<Derived> stream(new Derived(std::forward<Args>(args)...));
    stream->lease_ = std::move(lease);
    stream->self_ = stream;
    stream->RequestNext();
    return stream.get();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (finished_) return;
      if (!ok || last_written_ || cancelled_) {
        FinishLocked(ok ? grpc::Status::OK
                        : grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed"));
        return;
      }
    }
    static_cast<Derived*>(this)->RequestNext();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (finished_ || writing_) return;  // an outstanding write finishes the call when it ends
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "Stream cancelled by the client"));
  }

  void OnDone() override {
    lease_ = StreamLimiter::Lease();
    self_.reset();
  }

 protected:
  PullStream() = default;

  // Ends the call with `status` (NOT_FOUND for an unknown batch, ...).
  void Fail(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (!finished_) FinishLocked(ToGrpcStatus(status));
  }
  // Fills the response (under the lock) and writes it; `last` ends the call after this write.
  void Deliver(absl::FunctionRef<void(Response*)> fill, bool last) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    response_.Clear();
    fill(&response_);
    last_written_ = last;
    writing_ = true;
    this->StartWrite(&response_);
  }

 private:
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    this->Finish(std::move(status));
  }

  Response response_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool last_written_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Derived> self_;
  StreamLimiter::Lease lease_;
};

}  // namespace batchd::server
