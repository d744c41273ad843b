#include "server/http/rpc_bridge.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/client_callback.h>

#include "absl/synchronization/mutex.h"
#include "server/http/json_transcoding.h"

namespace batchd::server::http_api {
namespace {

using google::protobuf::Message;

struct UnaryCall {
  grpc::ClientContext context;
  std::unique_ptr<Message> request;
  std::unique_ptr<Message> response;
  RpcBridge::Done done;
};

// One server-streaming call over the generic (bidi) stub: the request is written last at
// once, then messages are read one at a time, each only after the reader took the last.
class GenericStream final : public StreamCall,
                            public grpc::ClientBidiReactor<Message, Message>,
                            public std::enable_shared_from_this<GenericStream> {
 public:
  GenericStream(std::unique_ptr<Message> request, std::unique_ptr<Message> response,
                StreamReader* reader)
      : request_(std::move(request)), response_(std::move(response)), reader_(reader) {}

  grpc::ClientContext& context() { return context_; }

  void Begin() {
    self_ = shared_from_this();
    StartWriteLast(request_.get(), grpc::WriteOptions());
    StartRead(response_.get());
    StartCall();
  }

  void Cancel() override { context_.TryCancel(); }

  void OnWriteDone(bool /*ok*/) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    reader_->OnMessage(*response_, [this] { StartRead(response_.get()); });
  }

  void OnDone(const grpc::Status& status) override {
    reader_->OnEnd(status);
    self_.reset();  // may destroy this
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<Message> request_;
  std::unique_ptr<Message> response_;
  StreamReader* const reader_;
  std::shared_ptr<GenericStream> self_;  // held from Begin to OnDone
};

void AddMetadata(grpc::ClientContext& context, const Metadata& metadata) {
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
}

}  // namespace

RpcBridge::RpcBridge(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(channel_) {}

void RpcBridge::Call(const Route& route, std::unique_ptr<Message> request, const Metadata& metadata,
                     Done done) {
  auto call = std::make_shared<UnaryCall>();
  AddMetadata(call->context, metadata);
  call->request = std::move(request);
  call->response = NewMessage(route.response_type);
  call->done = std::move(done);
  stub_.UnaryCall(&call->context, std::string(route.rpc), grpc::StubOptions(), call->request.get(),
                  call->response.get(), [call](grpc::Status status) {
                    if (status.ok()) {
                      call->done(status, std::move(call->response));
                    } else {
                      call->done(status, nullptr);
                    }
                  });
}

std::shared_ptr<StreamCall> RpcBridge::Stream(const Route& route, std::unique_ptr<Message> request,
                                              const Metadata& metadata, StreamReader* reader) {
  auto stream =
      std::make_shared<GenericStream>(std::move(request), NewMessage(route.response_type), reader);
  AddMetadata(stream->context(), metadata);
  stub_.PrepareBidiStreamingCall(&stream->context(), std::string(route.rpc), grpc::StubOptions(),
                                 stream.get());
  stream->Begin();
  return stream;
}

}  // namespace batchd::server::http_api
