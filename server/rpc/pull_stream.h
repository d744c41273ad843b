// The lifecycle shared by server-streaming calls that pull from the scheduler: ask for the next
// item, write it, ask again once the write completed, finish after the last item or when the
// client goes away. A subclass implements RequestNext(); its scheduler callback (on the
// scheduler's strand) only hands the item to OffStrand(), whose job converts it and calls
// Deliver() on the conversion pool: the strand schedules, it does not convert or write. gRPC's
// reference is dropped in OnDone, and the stream's place under the stream limits is given back
// then too; pending scheduler callbacks and pool jobs hold only weak references (a stream
// abandoned while its batch idles must not stay alive, and counted, until the batch changes),
// so one that arrives after the call ended finds nothing. Thread-safe.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/convert/status_convert.h"
#include "server/rpc/conversion_pool.h"
#include "server/rpc/stream_limiter.h"

namespace batchd::server {

template <typename Response, typename Derived>
class PullStream : public grpc::ServerWriteReactor<Response>,
                   public std::enable_shared_from_this<Derived> {
 public:
  // Creates the stream holding `lease` (its place under the stream limits), starts pulling
  // and returns gRPC's pointer to it. `conversions` must outlive the call.
  template <typename... Args>
  static grpc::ServerWriteReactor<Response>* Start(StreamLimiter::Lease lease,
                                                   ConversionPool& conversions, Args&&... args) {
    std::shared_ptr<Derived> stream(new Derived(std::forward<Args>(args)...));
    stream->lease_ = std::move(lease);
    stream->conversions_ = &conversions;
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
  // Runs `job(derived)` on the conversion pool unless the call has ended by then; for the
  // scheduler's callbacks. Posting only while the call is not finished means the post happens
  // before OnDone, so before the server's Wait, after which the pool is joined.
  template <typename Job>
  void OffStrand(Job job) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    conversions_->Post([weak = this->weak_from_this(), job = std::move(job)]() mutable {
      if (std::shared_ptr<Derived> self = weak.lock()) job(*self);
    });
  }
  // Fills the response and writes it; `last` ends the call after this write. The response is
  // filled outside the lock (only the one pull in flight touches it until StartWrite), so a
  // cancellation never waits for a conversion.
  void Deliver(absl::FunctionRef<void(Response*)> fill, bool last) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
    }
    response_.Clear();
    fill(&response_);
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    last_written_ = last;
    writing_ = true;
    this->StartWrite(&response_);
  }

 private:
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    this->Finish(std::move(status));
  }

  Response response_;  // touched only by the one pull in flight until StartWrite
  ConversionPool* conversions_ = nullptr;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool last_written_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Derived> self_;
  StreamLimiter::Lease lease_;
};

}  // namespace batchd::server
