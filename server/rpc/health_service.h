// grpc.health.v1.Health for the daemon, implemented here (not gRPC's built-in service) so that
// reflection describes it. One serving flag covers the whole server; a named service may be
// marked down on its own (BatchService while new batches cannot be made durable), which also
// makes the whole server ("") NOT_SERVING. Thread-safe: every method may be called from any
// thread.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace batchd::server {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // `service_names` are the services Check and Watch know besides "" (the whole server).
  // Starts NOT_SERVING.
  explicit HealthService(std::vector<std::string> service_names);
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;
  ~HealthService() override;

  // Updates every Watch stream whose status changes.
  void SetServing(bool serving);
  // Marks one of `service_names` up or down (all start up); ignores unknown names.
  void SetServiceServing(absl::string_view service, bool serving);
  // NOT_SERVING for good; each Watch stream gets that last update and is then finished (OK), so
  // open watches do not hold up the server's drain. Later Watch calls get the same treatment.
  void Shutdown();
  // What Check answers for `service` ("" = the whole server); SERVICE_UNKNOWN for other names.
  ServingStatus StatusOf(absl::string_view service) const;

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class WatchReactor;

  // SERVICE_UNKNOWN for names that are neither "" nor in `services_`.
  ServingStatus StatusOfLocked(absl::string_view service) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Called by a WatchReactor's OnDone, just before it deletes itself.
  void Unregister(WatchReactor* watcher);
  void NotifyWatchersLocked(bool then_finish) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::flat_hash_set<std::string> services_;
  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::string> down_ ABSL_GUARDED_BY(mu_);  // services marked down
  // Lock order: mu_, then a watcher's own mutex. Watchers never take mu_ holding their own.
  absl::flat_hash_set<WatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::server
