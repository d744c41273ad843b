// The C++ worker runtime: connects to batchd's WorkerService, registers, hands assignments to
// a TaskHandler and streams its outcomes back, reconnecting with backoff when the daemon goes
// away. Run blocks the calling thread; Stop is thread-safe (signal watchers, handlers).
#pragma once

#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "batchd/v1/worker_service.grpc.pb.h"
#include "client/cpp/channel.h"
#include "client/worker/worker_outbox.h"

namespace batchd::client {

// Runs the work of assignments. Both methods are called on the session's reader thread and
// must not block it: long work belongs on the handler's own threads.
class TaskHandler {
 public:
  // Thread-safe; call it once per assignment (later calls are ignored). The session fills in
  // the outcome's assignment_id. After the connection is gone, replies are dropped.
  using Reply = std::function<void(v1::TaskOutcome outcome)>;

  // Thread-safe; sends partial output of the assignment (StreamTaskOutput) until its reply.
  // False once it cannot be sent (replied, cancelled, connection gone).
  using Output = std::function<bool(std::string data)>;

  virtual ~TaskHandler() = default;
  virtual void Start(const v1::TaskAssignment& assignment, Reply reply) = 0;
  // What the session calls: handlers that send partial output override it.
  virtual void StartWithOutput(const v1::TaskAssignment& assignment, Reply reply,
                               Output /*output*/) {
    Start(assignment, std::move(reply));
  }
  // Stop the work of a started assignment and reply (any outcome; the daemon ignores it).
  // Also called for all work in flight when a connection ends: the daemon re-dispatches it.
  virtual void Cancel(const std::string& assignment_id) = 0;
};

struct WorkerSessionOptions {
  std::string address;       // as batchctl's --addr: host:port or unix:/path
  ChannelSecurity security;  // token and TLS, as for batchctl's other commands
  std::string name;
  std::vector<std::string> executors;
  uint32_t slots = 1;
  double weight = 1.0;
  std::map<std::string, std::string> labels;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Tests turn heartbeats off to see the daemon drop a silent worker.
  bool send_heartbeats = true;
  // Called on the reader thread each time the daemon accepts a registration.
  std::function<void(const v1::WorkerRegistered&)> on_registered;
};

class WorkerSession {
 public:
  // `handler` must outlive the session.
  WorkerSession(WorkerSessionOptions options, TaskHandler& handler);
  WorkerSession(const WorkerSession&) = delete;
  WorkerSession& operator=(const WorkerSession&) = delete;

  // Serves until Stop, reconnecting whenever the stream breaks. OK after Stop; the daemon's
  // INVALID_ARGUMENT when it rejects the registration; INVALID_ARGUMENT for a bad address.
  // Call once.
  absl::Status Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the current stream cleanly (pending outcomes written, then WritesDone) and makes Run
  // return. Idempotent; never blocks.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct ConnectionEnd {
    absl::Status status;
    bool registered = false;
  };

  using Stream = grpc::ClientReaderWriterInterface<v1::ConnectRequest, v1::ConnectResponse>;

  // One connection, from Connect to Finish.
  ConnectionEnd Serve(v1::WorkerService::StubInterface& stub) ABSL_LOCKS_EXCLUDED(mu_);
  // After registration (`first` holds it): reads until the stream ends; a writer thread writes.
  void ServeRegistered(grpc::ClientContext& context, Stream& stream,
                       const v1::ConnectResponse& first,
                       const std::shared_ptr<WorkerOutbox>& outbox);
  void WriteLoop(grpc::ClientContext& context, Stream& stream, absl::Duration heartbeat_interval,
                 WorkerOutbox& outbox);
  void Dispatch(const v1::ConnectResponse& response, const std::shared_ptr<WorkerOutbox>& outbox);
  v1::ConnectRequest Registration() const;
  // Sleeps `delay` unless Stop comes first; true when stopping.
  bool WaitUnlessStopped(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  void Log(absl::string_view message) const;

  const WorkerSessionOptions options_;
  TaskHandler& handler_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The connection being set up or served, for Stop to end.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::shared_ptr<WorkerOutbox> outbox_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::client
