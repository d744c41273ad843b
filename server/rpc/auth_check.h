// The bearer-token check that every BatchService, LimitService and WorkerService handler runs
// first (gRPC 1.51 cannot pair an AuthMetadataProcessor with insecure credentials, so it lives
// here, not in the transport). Health and reflection do not call it, so probes work without a
// token. Immutable after construction; thread-safe.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "server/rpc/finished_reactor.h"

namespace batchd::server {

class AuthCheck {
 public:
  static constexpr char kRejectMessage[] = "missing or invalid bearer token";

  // An empty `token` lets every call through (no --auth-token-file).
  explicit AuthCheck(std::string token) : token_(std::move(token)) {}

  bool required() const { return !token_.empty(); }

  // Whether an `authorization` header value (nullopt: none sent) carries the token, as
  // "Bearer <token>" (scheme in any case). Compared in constant time for a given length.
  bool Accepts(std::optional<absl::string_view> authorization) const;

  // OK, or UNAUTHENTICATED kRejectMessage.
  grpc::Status Check(const grpc::CallbackServerContext& context) const;

  // nullptr when the call may go on; else a reactor that has already finished it with Check's
  // status. Usage, first line of a handler: `if (auto* r = auth_.RejectUnary(context)) return r;`
  grpc::ServerUnaryReactor* RejectUnary(grpc::CallbackServerContext* context) const {
    grpc::Status status = Check(*context);
    if (status.ok()) return nullptr;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(std::move(status));
    return reactor;
  }
  template <typename Response>
  grpc::ServerWriteReactor<Response>* RejectWriter(grpc::CallbackServerContext* context) const {
    grpc::Status status = Check(*context);
    return status.ok() ? nullptr : FinishedWriter<Response>(std::move(status));
  }
  template <typename Request, typename Response>
  grpc::ServerBidiReactor<Request, Response>* RejectBidi(
      grpc::CallbackServerContext* context) const {
    grpc::Status status = Check(*context);
    return status.ok() ? nullptr : FinishedBidi<Request, Response>(std::move(status));
  }

 private:
  const std::string token_;
};

}  // namespace batchd::server
