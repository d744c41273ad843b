#include "client/worker/worker_session.h"

#include <grpc/grpc.h>  // GRPC_ARG_*
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cpp/channel.h"
#include "core/base/status_macros.h"

namespace batchd::client {
namespace {

// Heartbeat interval when the daemon does not name one.
constexpr absl::Duration kDefaultHeartbeatInterval = absl::Seconds(1);
// How long after WritesDone the daemon gets to end the stream before it is cancelled.
constexpr absl::Duration kCloseGrace = absl::Seconds(3);

absl::Status ToAbslStatus(const grpc::Status& status) {
  return {static_cast<absl::StatusCode>(status.error_code()), status.error_message()};
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  const int64_t nanos = absl::ToUnixNanos(time);
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(nanos / 1'000'000'000);
  timestamp.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return timestamp;
}

// A channel of its own for every connection attempt (and no subchannel shared with other
// channels): a channel that failed before would fail RPCs fast during gRPC's own reconnect
// backoff, adding to the session's and keeping a restarted daemon waiting for its workers.
std::shared_ptr<grpc::Channel> CreateAttemptChannel(const std::string& target,
                                                    const ChannelSecurity& security) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(ChannelOptions{}.max_receive_message_bytes);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return CreateSecureChannel(target, security, args);
}

bool HasContent(const v1::ConnectRequest& request) {
  return request.outcomes_size() > 0 || request.cancel_acks_size() > 0 ||
         request.outputs_size() > 0 || request.has_heartbeat();
}

}  // namespace

WorkerSession::WorkerSession(WorkerSessionOptions options, TaskHandler& handler)
    : options_(std::move(options)), handler_(handler) {}

absl::Status WorkerSession::Run() {
  ASSIGN_OR_RETURN(const std::string target, ResolveTarget(options_.address));
  absl::Duration backoff = options_.initial_backoff;
  for (;;) {
    const std::unique_ptr<v1::WorkerService::Stub> stub =
        v1::WorkerService::NewStub(CreateAttemptChannel(target, options_.security));
    const ConnectionEnd end = Serve(*stub);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::OkStatus();
    }
    // Rejected registrations never succeed on retry; everything else may be a daemon restart.
    if (!end.registered && end.status.code() == absl::StatusCode::kInvalidArgument) {
      return end.status;
    }
    if (end.registered) backoff = options_.initial_backoff;
    Log(absl::StrCat(end.registered ? "connection lost" : "cannot connect", " (",
                     end.status.ToString(), "); retrying in ", absl::FormatDuration(backoff)));
    if (WaitUnlessStopped(backoff)) return absl::OkStatus();
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void WorkerSession::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (outbox_ != nullptr) {
    outbox_->RequestClose();  // the writer flushes, then ends the stream with WritesDone
  } else if (context_ != nullptr) {
    context_->TryCancel();  // still registering: nothing to flush
  }
}

WorkerSession::ConnectionEnd WorkerSession::Serve(v1::WorkerService::StubInterface& stub) {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return {absl::OkStatus(), false};
    context_ = &context;
  }
  const std::unique_ptr<Stream> stream = stub.Connect(&context);
  v1::ConnectResponse response;
  const bool answered = stream->Write(Registration()) && stream->Read(&response);
  const bool registered = answered && response.has_registered();
  if (registered) {
    auto outbox = std::make_shared<WorkerOutbox>();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) outbox->RequestClose();
      outbox_ = outbox;
    }
    if (options_.on_registered) options_.on_registered(response.registered());
    ServeRegistered(context, *stream, response, outbox);
  } else if (answered) {
    context.TryCancel();  // a daemon that does not speak this protocol
  }
  grpc::Status status = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    outbox_ = nullptr;
  }
  if (!registered && status.ok()) {
    status = grpc::Status(grpc::StatusCode::UNKNOWN, "the daemon did not confirm registration");
  }
  return {ToAbslStatus(status), registered};
}

void WorkerSession::ServeRegistered(grpc::ClientContext& context, Stream& stream,
                                    const v1::ConnectResponse& first,
                                    const std::shared_ptr<WorkerOutbox>& outbox) {
  const uint32_t interval_ms = first.registered().heartbeat_interval_ms();
  const absl::Duration interval =
      interval_ms == 0 ? kDefaultHeartbeatInterval : absl::Milliseconds(interval_ms);
  std::thread writer([&] { WriteLoop(context, stream, interval, *outbox); });
  Dispatch(first, outbox);  // assignments may come with the registration
  v1::ConnectResponse response;
  while (stream.Read(&response)) Dispatch(response, outbox);
  const std::vector<std::string> abandoned = outbox->Close();
  writer.join();
  // The daemon re-dispatches whatever was in flight; stop working on it here.
  for (const std::string& assignment_id : abandoned) handler_.Cancel(assignment_id);
}

void WorkerSession::WriteLoop(grpc::ClientContext& context, Stream& stream,
                              absl::Duration heartbeat_interval, WorkerOutbox& outbox) {
  absl::Time next_heartbeat = absl::Now() + heartbeat_interval;
  for (;;) {
    v1::ConnectRequest request;
    const WorkerOutbox::TakeResult result =
        outbox.Take(options_.send_heartbeats ? next_heartbeat : absl::InfiniteFuture(), request);
    if (result == WorkerOutbox::TakeResult::kClosed) return;
    if (options_.send_heartbeats) {
      const absl::Time now = absl::Now();
      if (now >= next_heartbeat) {
        *request.mutable_heartbeat()->mutable_sent_at() = ToTimestamp(now);
        next_heartbeat = now + heartbeat_interval;
      }
    }
    if (HasContent(request) && !stream.Write(request)) {
      context.TryCancel();  // the stream is broken: make the reader see it too
      return;
    }
    if (result == WorkerOutbox::TakeResult::kFlushed) {
      stream.WritesDone();
      if (!outbox.AwaitClosed(kCloseGrace)) context.TryCancel();
      return;
    }
  }
}

void WorkerSession::Dispatch(const v1::ConnectResponse& response,
                             const std::shared_ptr<WorkerOutbox>& outbox) {
  for (const v1::TaskAssignment& assignment : response.assignments()) {
    const std::string& assignment_id = assignment.assignment_id();
    // A duplicate, or the session is closing and the daemon will re-dispatch it.
    if (!outbox->Track(assignment_id)) continue;
    handler_.StartWithOutput(
        assignment,
        [outbox, assignment_id](v1::TaskOutcome outcome) {
          outbox->Complete(assignment_id, std::move(outcome));
        },
        [outbox, assignment_id](std::string data) {
          return outbox->Output(assignment_id, std::move(data));
        });
  }
  for (const v1::CancelAssignment& cancel : response.cancels()) {
    if (outbox->RequestCancel(cancel.assignment_id()) ==
        WorkerOutbox::CancelAction::kForwardToHandler) {
      handler_.Cancel(cancel.assignment_id());
    }
  }
}

v1::ConnectRequest WorkerSession::Registration() const {
  v1::ConnectRequest request;
  v1::WorkerRegistration& registration = *request.mutable_registration();
  registration.set_name(options_.name);
  for (const std::string& executor : options_.executors) registration.add_executors(executor);
  registration.set_slots(options_.slots);
  registration.set_weight(options_.weight);
  registration.mutable_labels()->insert(options_.labels.begin(), options_.labels.end());
  return request;
}

bool WorkerSession::WaitUnlessStopped(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
  return stopping_;
}

void WorkerSession::Log(absl::string_view message) const {
  const std::string line = absl::StrCat("worker '", options_.name, "': ", message, "\n");
  std::fputs(line.c_str(), stderr);
}

}  // namespace batchd::client
