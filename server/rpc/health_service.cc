#include "server/rpc/health_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace batchd::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: at most one write in flight; a newer status replaces a queued one, and a
// status equal to the last one sent is not sent again. Owned by gRPC; deletes itself in OnDone.
class HealthService::WatchReactor final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  WatchReactor(HealthService* service, std::string service_name)
      : service_(service), service_name_(std::move(service_name)) {}

  const std::string& service_name() const { return service_name_; }

  // Queues `status`; with `then_finish`, the stream is finished once it has been written.
  void Send(ServingStatus status, bool then_finish) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    pending_ = status;
    finish_after_write_ = finish_after_write_ || then_finish;
    if (!write_in_flight_) StartNextLocked();
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "Health watch write failed"));
      return;
    }
    StartNextLocked();
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->Unregister(this);
    delete this;
  }

 private:
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.has_value() && pending_ != last_sent_) {
      last_sent_ = pending_;
      pending_.reset();
      response_.set_status(*last_sent_);
      write_in_flight_ = true;
      StartWrite(&response_);
      return;
    }
    pending_.reset();
    if (finish_after_write_) FinishLocked(grpc::Status::OK);
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  HealthService* const service_;
  const std::string service_name_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);  // the write in flight, if any
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<ServingStatus> last_sent_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_write_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService(std::vector<std::string> service_names)
    : services_(std::make_move_iterator(service_names.begin()),
                std::make_move_iterator(service_names.end())) {}

HealthService::~HealthService() = default;

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || serving_ == serving) return;
  serving_ = serving;
  NotifyWatchersLocked(/*then_finish=*/false);
}

void HealthService::SetServiceServing(absl::string_view service, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || !services_.contains(service)) return;
  const bool changed =
      serving ? down_.erase(service) > 0 : down_.insert(std::string(service)).second;
  if (changed) NotifyWatchersLocked(/*then_finish=*/false);
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  serving_ = false;
  NotifyWatchersLocked(/*then_finish=*/true);
}

void HealthService::NotifyWatchersLocked(bool then_finish) {
  // A watcher sends only what differs from what it sent last.
  for (WatchReactor* watcher : watchers_) {
    watcher->Send(StatusOfLocked(watcher->service_name()), then_finish);
  }
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::ReaderMutexLock lock(&mu_);
  ServingStatus status = StatusOfLocked(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 absl::StrCat("Unknown service '", request->service(), "'")));
    return reactor;
  }
  response->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* /*context*/, const HealthCheckRequest* request) {
  auto* watcher = new WatchReactor(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  // An unknown service is reported as SERVICE_UNKNOWN and watched like any other
  // (grpc.health.v1 semantics), rather than failing the call.
  watcher->Send(StatusOfLocked(request->service()), /*then_finish=*/shut_down_);
  return watcher;
}

HealthService::ServingStatus HealthService::StatusOf(absl::string_view service) const {
  absl::ReaderMutexLock lock(&mu_);
  return StatusOfLocked(service);
}

HealthService::ServingStatus HealthService::StatusOfLocked(absl::string_view service) const {
  if (!service.empty() && !services_.contains(service)) return HealthCheckResponse::SERVICE_UNKNOWN;
  const bool up = serving_ && (service.empty() ? down_.empty() : !down_.contains(service));
  return up ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

void HealthService::Unregister(WatchReactor* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

}  // namespace batchd::server
