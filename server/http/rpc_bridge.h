// Calls batchd's own gRPC services in process (Server::InProcessChannel, generic stubs), so the
// HTTP API runs exactly what gRPC clients run: the same auth check, validation, limits and
// messages. Thread-safe; callbacks run on gRPC's threads.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/http/http_routes.h"

namespace batchd::server::http_api {

using Metadata = std::vector<std::pair<std::string, std::string>>;

// What a streaming call hands its reader, on gRPC threads, one call at a time.
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // One message of the stream; call `next` once it was handed on (written) to read the next.
  virtual void OnMessage(const google::protobuf::Message& message, std::function<void()> next) = 0;
  // The call ended (after every OnMessage); nothing is called after it.
  virtual void OnEnd(const grpc::Status& status) = 0;
};

// A streaming call in flight: Cancel ends it (OnEnd still comes, CANCELLED).
class StreamCall {
 public:
  virtual ~StreamCall() = default;
  virtual void Cancel() = 0;
};

class RpcBridge {
 public:
  using Done = std::function<void(const grpc::Status&, std::unique_ptr<google::protobuf::Message>)>;

  explicit RpcBridge(std::shared_ptr<grpc::Channel> channel);

  // Runs `route`'s unary RPC; `done` gets the status and, when OK, the response.
  void Call(const Route& route, std::unique_ptr<google::protobuf::Message> request,
            const Metadata& metadata, Done done);

  // Starts `route`'s server-streaming RPC; `reader` must outlive the call's OnEnd.
  std::shared_ptr<StreamCall> Stream(const Route& route,
                                     std::unique_ptr<google::protobuf::Message> request,
                                     const Metadata& metadata, StreamReader* reader);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::TemplatedGenericStub<google::protobuf::Message, google::protobuf::Message> stub_;
};

}  // namespace batchd::server::http_api
